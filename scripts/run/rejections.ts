/**
 * Bad messages from outside a run (another program on the NATS server, a peer of another
 * version) are refused by the codec with an error reply or a dead letter; this reports them on
 * the run's own output too, one line per subject at most every `everyMs`, counting the ones it
 * held back, so a flood of bad traffic is visible without drowning the run's progress lines.
 */
import { createLogger, type Logger, type LogRecord } from "../../actors/log.ts";

/** What the codec logs when it refuses a message (protocols/codec.ts). */
const REJECTED = /^Rejected bad (request|message)$/;

/** A logger for the run's actors and handlers that keeps only the codec's rejections and reports them through `warn`. */
export function rejectionReporter(
  warn: (line: string) => void,
  everyMs = 10_000,
  now: () => number = Date.now,
): Logger {
  const bySubject = new Map<string, { last: number; held: number }>();
  const report = (r: LogRecord) => {
    const kind = REJECTED.exec(r.msg)?.[1];
    if (kind === undefined) return;
    const subject = typeof r.subject === "string" ? r.subject : "(unknown subject)";
    const seen = bySubject.get(subject);
    const t = now();
    if (seen !== undefined && t - seen.last < everyMs) {
      seen.held++;
      return;
    }
    const more = seen !== undefined && seen.held > 0
      ? ` (and ${seen.held} more since the last line)`
      : "";
    bySubject.set(subject, { last: t, held: 0 });
    warn(
      `${subject}: refused a bad ${kind}${typeof r.id === "string" ? ` (id ${r.id})` : ""}: ${
        String(r.error ?? r.code ?? "")
      }${more}`,
    );
  };
  return createLogger({ sink: report, level: "warn" });
}
