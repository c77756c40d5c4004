import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, silentLogger } from "../../common/logger.js";
import type { NewExecution } from "../../db/queries/executions.js";
import type { NewProcess } from "../../db/queries/processes.js";
import type { NewSample } from "../../db/queries/samples.js";
import type { SampleSink } from "../tracking/sampler.js";
import { observeSink } from "./observe-sink.js";

/** A sink that records every call in order, under its name. */
function recordingSink(name: string, calls: string[]): SampleSink {
  return {
    execution: (row) => calls.push(`${name}.execution ${row.id}`),
    samples: (rows) => calls.push(`${name}.samples ${rows.length}`),
    processes: (rows) => calls.push(`${name}.processes ${rows.length}`),
  };
}

const execution = { id: "e1" } as NewExecution;
const samples = [{ executionId: "e1" }, { executionId: "e1" }] as NewSample[];
const processes = [{ executionId: "e1" }] as NewProcess[];

describe("observeSink", () => {
  it("without an observer is the writer itself", () => {
    const writer = recordingSink("writer", []);
    expect(observeSink(writer, null, silentLogger)).toBe(writer);
  });

  it("hands every row to the writer first, then to the observer", () => {
    const calls: string[] = [];
    const sink = observeSink(recordingSink("writer", calls), recordingSink("observer", calls), silentLogger);
    sink.execution(execution);
    sink.samples(samples);
    sink.processes(processes);
    expect(calls).toEqual([
      "writer.execution e1",
      "observer.execution e1",
      "writer.samples 2",
      "observer.samples 2",
      "writer.processes 1",
      "observer.processes 1",
    ]);
  });

  it("logs an observer's failure and never lets it reach the sampler; the writer still gets the rows", () => {
    const calls: string[] = [];
    let logged = "";
    const stream = new Writable({
      write(chunk, _encoding, callback) {
        logged += String(chunk);
        callback();
      },
    });
    const failing: SampleSink = {
      execution: () => {
        throw new Error("exporter down");
      },
      samples: () => {
        throw new Error("exporter down");
      },
      processes: () => {
        throw new Error("exporter down");
      },
    };
    const sink = observeSink(recordingSink("writer", calls), failing, createLogger("warn", false, stream));
    expect(() => sink.execution(execution)).not.toThrow();
    expect(() => sink.samples(samples)).not.toThrow();
    expect(() => sink.processes(processes)).not.toThrow();
    expect(calls).toEqual(["writer.execution e1", "writer.samples 2", "writer.processes 1"]);
    const messages = logged
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { msg: string });
    expect(messages.map((line) => line.msg)).toEqual([
      "metrics observer failed on execution",
      "metrics observer failed on samples",
      "metrics observer failed on processes",
    ]);
  });

  it("does not hide a failure of the writer itself", () => {
    const calls: string[] = [];
    const writer: SampleSink = {
      ...recordingSink("writer", calls),
      samples: () => {
        throw new Error("writer broken");
      },
    };
    const sink = observeSink(writer, recordingSink("observer", calls), silentLogger);
    expect(() => sink.samples(samples)).toThrow("writer broken");
    expect(calls).toEqual([]);
  });
});
