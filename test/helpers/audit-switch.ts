/**
 * TEST ONLY: `auditctl -e 0` over netlink, to reproduce "audit switched off
 * and on again". The library never switches audit off (AuditControl can only
 * switch it on), so this lives here. It sends enabled 0 and nothing else:
 * never 2 (locked until reboot), never a failure mode. Callers restore
 * enabled 1 in a `finally` right after, and keep the off window to
 * milliseconds: other tests on this machine may be counting on audit.
 */
import { AUDIT_SET, AUDIT_STATUS_BYTES, AUDIT_STATUS_ENABLED, auditRequest } from "../../lib/rules/audit-netlink.ts";
import { kernelAuditControl } from "../../lib/rules/control.ts";

export function switchAuditOffForTest(): void {
  const payload = new Uint8Array(AUDIT_STATUS_BYTES);
  const view = new DataView(payload.buffer);
  view.setUint32(0, AUDIT_STATUS_ENABLED, true); // mask: only `enabled` changes
  view.setUint32(4, 0, true); // enabled = 0
  auditRequest(AUDIT_SET, payload, "ack");
}

/** Put audit back on (enabled 1) if it is off; returns whether it had to. */
export function restoreAuditOn(): boolean {
  if (kernelAuditControl.status().enabled !== 0) return false;
  kernelAuditControl.enable();
  return true;
}
