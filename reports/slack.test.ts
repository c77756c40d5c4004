import { describe, expect, it } from "vitest";
import { escapeSlack, slackMessage, slackName } from "./slack.js";
import { buildTask, sampleAnalysis } from "../test-support/report-fixtures.js";

const hostile = [
  "<!here> <!channel> <@U024BE7LH>",
  "<http://evil.example|click me>",
  "a & b &amp; c",
  "line\nbreak\r\nand`code`",
  "*bold* _italic_ ~strike~",
  "::error::x @org/team #12",
];

describe("Slack escaping", () => {
  it("escapes the three control characters and only them (Slack's formatting reference)", () => {
    expect(escapeSlack("a & <b> *c*")).toBe("a &amp; &lt;b&gt; *c*");
  });

  it.each(hostile)("a name never opens a link or a mention, nor leaves its code span: %j", (name) => {
    const shown = slackName(name);
    expect(shown).toMatch(/^`[^`]*`$/);
    expect(shown).not.toMatch(/[<>\r\n]/);
    expect(shown).not.toMatch(/&(?!amp;|lt;|gt;)/);
  });

  it("cuts long names before escaping, so no entity is cut", () => {
    const shown = slackName("&".repeat(200));
    expect(shown).toMatch(/^`(&amp;){79}…`$/);
  });
});

describe("slackMessage", () => {
  it("lists the five worst tasks with hostile names escaped, and says how many more", () => {
    const document = sampleAnalysis();
    document.tasks.push(
      ...hostile.map((task, index) =>
        buildTask({
          pipeline: "p",
          task,
          usedCores: 1,
          peakBytes: 1e9,
          recommendedCores: 1,
          recommendedBytes: 1e9,
          seed: index,
        }),
      ),
    );
    const message = slackMessage(document, { reportUrl: null });
    expect(message.blocks.map((block) => block.type)).toEqual(["header", "section", "section"]);
    const worst = (message.blocks[2] as { text: { text: string } }).text.text;
    expect(worst.split("\n").filter((line) => line.startsWith("• "))).toHaveLength(5);
    expect(worst).toContain(`…and ${document.tasks.length - 5} more in the report`);
    const all = JSON.stringify(message);
    expect(all).not.toContain("<!here>");
    expect(all).not.toContain("<http://evil");
    expect(all.length).toBeLessThan(3000);
  });
});
