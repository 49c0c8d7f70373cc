/** One entry point for report's `--format`. */
import type { Report } from "../signals/findings.ts";
import { renderHtml } from "./html.ts";
import { renderJson } from "./json.ts";
import { renderMarkdown } from "./markdown.ts";
import { renderText, type TextOptions } from "./text.ts";

export const REPORT_FORMATS = ["text", "markdown", "json", "html"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** `options` are the text format's (colour: decide with `shouldColor`); the others take none. */
const RENDERERS: Record<ReportFormat, (report: Report, options: TextOptions) => string> = {
  text: renderText,
  markdown: renderMarkdown,
  json: renderJson,
  html: renderHtml,
};

export function renderReport(report: Report, format: ReportFormat, options: TextOptions = {}): string {
  return RENDERERS[format](report, options);
}
