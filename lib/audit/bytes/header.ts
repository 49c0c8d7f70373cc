/**
 * The prefix of a plain audit line, `[node=N ]type=T msg=audit(S.M:N): `,
 * read from bytes: what parseLine's record fast path finds (lib/audit/line.ts),
 * for the readers that never make a string of the line (decode's slots,
 * capture's file path). Ranges come back as numbers; type, id and node
 * strings are made on request, and from small caches, since consecutive
 * lines nearly always share them.
 */
import { readStamp, type Stamp } from "./stamp.ts";
import { startsWithAt } from "../../bytes/read.ts";
import { TypeNames } from "../line.ts";

const NODE = Buffer.from("node=");
const TYPE = Buffer.from("type=");
const MSG = Buffer.from("msg=");
const AUDIT_OPEN = Buffer.from("audit(");

/** The string of the bytes last asked for, kept while they stay the same. */
export class LastText {
  private bytes: Uint8Array = new Uint8Array(64);
  private length = -1;
  private text = "";

  of(bytes: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length === this.length) {
      const last = this.bytes;
      let i = 0;
      while (i < length && last[i] === bytes[start + i]) i++;
      if (i === length) return this.text;
    }
    return this.fresh(bytes, start, end);
  }

  private fresh(bytes: Buffer, start: number, end: number): string {
    const length = end - start;
    this.text = bytes.toString("latin1", start, end);
    if (length > this.bytes.length) this.bytes = new Uint8Array(2 * length);
    for (let i = 0; i < length; i++) this.bytes[i] = bytes[start + i]!;
    this.length = length;
    return this.text;
  }
}

export class PlainHeader {
  /** Ranges in the line (node: -1 when there is no `node=` prefix). */
  nodeStart = -1;
  nodeEnd = -1;
  typeStart = 0;
  typeEnd = 0;
  /** The stamp inside `audit(…)`. */
  stampStart = 0;
  stampEnd = 0;
  /** Where the fields begin. */
  bodyStart = 0;
  seconds = 0;
  millis = 0;
  serial = 0;
  /** The record type's name (cached per spelling). */
  type = "";

  private bytes: Buffer = Buffer.alloc(0);
  private readonly stamp: Stamp = { seconds: 0, millis: 0, serial: 0, close: 0 };
  private readonly types = new TypeNames();
  private readonly ids = new LastText();
  private readonly nodes = new LastText();

  /**
   * Read bytes[start, end) as a plain record line. False for anything
   * parseRecordAt would not take as is (a kernel-log form, a numeric or
   * UNKNOWN[N] type it renames, a bad stamp): the caller goes the string way.
   */
  read(bytes: Buffer, start: number, end: number): boolean {
    let typeAt = start;
    this.nodeStart = this.nodeEnd = -1;
    if (bytes[start] === 0x6e /* n */ && startsWithAt(bytes, NODE, start, end)) {
      let space = start + 5;
      while (space < end && bytes[space] !== 0x20) space++;
      if (space === start + 5 || space >= end || !startsWithAt(bytes, TYPE, space + 1, end)) return false;
      this.nodeStart = start + 5;
      this.nodeEnd = space;
      typeAt = space + 1;
    } else if (!startsWithAt(bytes, TYPE, start, end)) return false;
    const typeStart = typeAt + 5;
    let typeEnd = typeStart;
    while (typeEnd < end && bytes[typeEnd] !== 0x20) typeEnd++;
    if (typeEnd === end || typeEnd === typeStart) return false;
    const type = this.types.name(bytes, typeStart, typeEnd);
    if (type === null) return false;
    let at = typeEnd + 1;
    if (startsWithAt(bytes, MSG, at, end)) at += 4;
    if (!startsWithAt(bytes, AUDIT_OPEN, at, end)) return false;
    const open = at + 6;
    const stamp = this.stamp;
    if (!readStamp(bytes, open, end, stamp)) return false;
    let bodyStart = stamp.close + 1;
    if (bodyStart < end && bytes[bodyStart] === 0x3a /* : */) bodyStart++;
    while (bodyStart < end && bytes[bodyStart] === 0x20) bodyStart++;
    this.bytes = bytes;
    this.type = type;
    this.typeStart = typeStart;
    this.typeEnd = typeEnd;
    this.stampStart = open;
    this.stampEnd = stamp.close;
    this.bodyStart = bodyStart;
    this.seconds = stamp.seconds;
    this.millis = stamp.millis;
    this.serial = stamp.serial;
    return true;
  }

  /** The stamp as an id string (`S.M:N`). */
  id(): string {
    return this.ids.of(this.bytes, this.stampStart, this.stampEnd);
  }

  node(): string | null {
    return this.nodeStart < 0 ? null : this.nodes.of(this.bytes, this.nodeStart, this.nodeEnd);
  }
}
