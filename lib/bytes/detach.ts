/**
 * A copy of `text` that shares no memory with the input it was cut from.
 * JSC keeps a substring's whole parent alive (here: the line it was cut
 * from, or a whole event line of JSON), so state kept for a run (ids,
 * ancestry, summaries) holds copies.
 * Concatenate-and-slice tricks do not copy in JSC; a round trip through
 * bytes does, and so keeps a run's memory down to what it really holds.
 * Flattening a rope before slicing also copies, and is cheaper, but costs
 * more memory in decode, which makes its copies per event.
 */
const WIDE = /[^\u0000-\u00ff]/;

export function detach(text: string): string;
export function detach(text: string | null): string | null;
export function detach(text: string | null): string | null {
  if (text === null) return null;
  // Latin-1 when it can carry the text: half the cost of a UTF-8 round trip.
  return WIDE.test(text) ? Buffer.from(text, "utf8").toString("utf8") : Buffer.from(text, "latin1").toString("latin1");
}
