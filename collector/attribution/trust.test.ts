import { describe, expect, it } from "vitest";
import {
  DEFAULT_TRUST,
  isTrusted,
  parsePasswd,
  parseStatusUid,
  parseTrustPolicy,
  TrustSettingError,
} from "./trust.js";

const users = parsePasswd("root:x:0:0:root:/root:/bin/bash\nairflow:x:50000:0::/home/airflow:/bin/bash\n");
const standard = parseTrustPolicy(DEFAULT_TRUST, users);

describe("trust model", () => {
  it.each([
    ["root anywhere", { uid: 0, cgroupPaths: ["/user.slice/user-0.slice/session-1.scope"] }, true],
    [
      "an Airflow worker service",
      { uid: 50000, cgroupPaths: ["/system.slice/airflow-worker.service"] },
      true,
    ],
    [
      "a Kubernetes pod",
      {
        uid: 50000,
        cgroupPaths: [
          "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-ab.scope",
        ],
      },
      true,
    ],
    ["a docker container (cgroupfs driver)", { uid: 1000, cgroupPaths: ["/docker/0123abcd"] }, true],
    ["a login session", { uid: 1000, cgroupPaths: ["/user.slice/user-1000.slice/session-3.scope"] }, false],
    [
      "a user's own systemd service",
      { uid: 1000, cgroupPaths: ["/user.slice/user-1000.slice/user@1000.service/app.slice/x.service"] },
      false,
    ],
    [
      "a rootless podman container",
      {
        uid: 1000,
        cgroupPaths: ["/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-ab.scope"],
      },
      false,
    ],
    ["a process outside any slice", { uid: 1000, cgroupPaths: ["/"] }, false],
    ["unreadable", { uid: null, cgroupPaths: [] }, false],
  ])("default: %s → %s", (_name, credentials, trusted) => {
    expect(isTrusted(credentials, standard)).toBe(trusted);
  });

  it("lists users by uid or by name, and `any` trusts everyone", () => {
    const listed = parseTrustPolicy(["uid:1000", "user:airflow"], users);
    expect(isTrusted({ uid: 1000, cgroupPaths: ["/"] }, listed)).toBe(true);
    expect(isTrusted({ uid: 50000, cgroupPaths: ["/"] }, listed)).toBe(true);
    expect(isTrusted({ uid: 0, cgroupPaths: ["/system.slice/x.service"] }, listed)).toBe(false);
    expect(isTrusted({ uid: 7, cgroupPaths: [] }, parseTrustPolicy(["any"], users))).toBe(true);
  });

  it("refuses unknown entries and unknown users", () => {
    expect(() => parseTrustPolicy(["everyone"], users)).toThrow(TrustSettingError);
    expect(() => parseTrustPolicy(["user:nobody-here"], users)).toThrow(/no user 'nobody-here'/);
  });

  it("reads the real uid from /proc/PID/status", () => {
    expect(parseStatusUid("Name:\tsleep\nUid:\t1000\t0\t0\t0\nGid:\t1000\n")).toBe(1000);
    expect(parseStatusUid(undefined)).toBeNull();
  });
});
