/**
 * BSD process accounting records, version 3 (pure). The kernel appends one 64-byte `struct acct_v3` per
 * exited process to the accounting file (include/uapi/linux/acct.h; kernel/acct.c fill_ac):
 *
 *   off size field
 *     0    1 ac_flag      AFORK 0x01 forked but not exec'd, ASU 0x02, ACORE 0x08, AXSIG 0x10
 *     1    1 ac_version   3 (0x80 set on big-endian hosts)
 *     2    2 ac_tty
 *     4    4 ac_exitcode  the wait status: code << 8 | terminating signal
 *     8    4 ac_uid, 12 ac_gid
 *    16    4 ac_pid, 20 ac_ppid (the parent's tgid when the process exited)
 *    24    4 ac_btime     start, whole seconds since the epoch
 *    28    4 ac_etime     elapsed, an IEEE float in AHZ units
 *    32    2 ac_utime, 34 ac_stime (comp_t, AHZ units), 36 ac_mem (comp_t, average KiB), 38 ac_io,
 *          40 ac_rw, 42 ac_minflt, 44 ac_majflt, 46 ac_swaps
 *    48   16 ac_comm      NUL-padded
 *
 * AHZ is 100 on Linux (include/linux/acct.h), so times have 1/100 s resolution per process and are
 * truncated (nsec_to_AHZ divides), each field apart.
 */

export const ACCT_V3_RECORD_BYTES = 64;
const ACCT_VERSION_3 = 3;
/** Ticks per second of record times (include/linux/acct.h AHZ). */
export const ACCT_TICKS_PER_SECOND = 100;
/** ac_flag: forked but never exec'd (a subshell). */
export const AFORK = 0x01;

export interface AcctRecord {
  flag: number;
  exitCode: number;
  uid: number;
  pid: number;
  ppid: number;
  /** Start, whole seconds since the epoch. */
  beginSeconds: number;
  /** Elapsed seconds (float). */
  elapsedSeconds: number;
  /** User + system CPU, record ticks (1/100 s). */
  cpuTicks: number;
  /** Average memory, KiB. */
  averageMemoryKib: number;
  /** Command name (≤ 15 bytes, from the process: hostile). */
  comm: string;
}

/**
 * comp_t: 13-bit mantissa, 3-bit base-8 exponent (kernel/acct.c encode_comp_t): value = m << (3·e).
 * Exact up to 8191; beyond, the low bits were rounded away by the kernel.
 */
export function decodeCompT(value: number): number {
  return (value & 0x1fff) * 8 ** ((value >> 13) & 0x7);
}

/** Encodes like kernel/acct.c encode_comp_t (for tests and fixtures). */
export function encodeCompT(value: number): number {
  let mantissa = Math.max(0, Math.floor(value));
  let exponent = 0;
  let rounding = 0;
  while (mantissa > 0x1fff) {
    rounding = mantissa & (1 << 2); // the kernel rounds on the highest bit shifted out
    mantissa >>= 3;
    exponent++;
  }
  if (rounding && ++mantissa > 0x1fff) {
    mantissa >>= 3;
    exponent++;
  }
  if (exponent > 7) return 0xffff;
  return (exponent << 13) | mantissa;
}

export class AcctFormatError extends Error {
  override name = "AcctFormatError";
}

/**
 * Parses whole records from `buffer` starting at `offset` (a file read incrementally may end mid-record:
 * the rest is left for the next read). Returns the records and how many bytes they used. A record of
 * another version (v1/v2 accounting, or a foreign file) is an error naming the offset.
 */
export function parseAcctRecords(
  buffer: Buffer,
  length = buffer.length,
  fileOffset = 0,
): { records: AcctRecord[]; used: number } {
  const records: AcctRecord[] = [];
  let at = 0;
  for (; at + ACCT_V3_RECORD_BYTES <= length; at += ACCT_V3_RECORD_BYTES) {
    const version = buffer[at + 1]! & 0x7f;
    if (version !== ACCT_VERSION_3) {
      throw new AcctFormatError(
        `accounting record at byte ${fileOffset + at} has version ${version}, expected 3 (acct_v3)`,
      );
    }
    const utime = decodeCompT(buffer.readUInt16LE(at + 32));
    const stime = decodeCompT(buffer.readUInt16LE(at + 34));
    const commBytes = buffer.subarray(at + 48, at + 64);
    const end = commBytes.indexOf(0);
    records.push({
      flag: buffer[at]!,
      exitCode: buffer.readUInt32LE(at + 4),
      uid: buffer.readUInt32LE(at + 8),
      pid: buffer.readUInt32LE(at + 16),
      ppid: buffer.readUInt32LE(at + 20),
      beginSeconds: buffer.readUInt32LE(at + 24),
      elapsedSeconds: buffer.readFloatLE(at + 28) / ACCT_TICKS_PER_SECOND,
      cpuTicks: utime + stime,
      averageMemoryKib: decodeCompT(buffer.readUInt16LE(at + 36)),
      comm: commBytes.subarray(0, end === -1 ? 16 : end).toString("latin1"),
    });
  }
  return { records, used: at };
}

/** Builds one record's bytes (tests, fixtures). */
export function encodeAcctRecord(record: Partial<AcctRecord> & { pid: number; ppid: number }): Buffer {
  const buffer = Buffer.alloc(ACCT_V3_RECORD_BYTES);
  buffer[0] = record.flag ?? 0;
  buffer[1] = ACCT_VERSION_3;
  buffer.writeUInt32LE(record.exitCode ?? 0, 4);
  buffer.writeUInt32LE(record.uid ?? 0, 8);
  buffer.writeUInt32LE(record.pid, 16);
  buffer.writeUInt32LE(record.ppid, 20);
  buffer.writeUInt32LE(record.beginSeconds ?? 0, 24);
  buffer.writeFloatLE((record.elapsedSeconds ?? 0) * ACCT_TICKS_PER_SECOND, 28);
  buffer.writeUInt16LE(encodeCompT(record.cpuTicks ?? 0), 32);
  buffer.writeUInt16LE(encodeCompT(record.averageMemoryKib ?? 0), 36);
  buffer.write((record.comm ?? "").slice(0, 15), 48, "latin1");
  return buffer;
}
