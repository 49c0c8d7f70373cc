/** One entry point for report's `--format`. */
import type { Report } from "../signals/findings.ts";
import { renderHtml } from "./html.ts";
import { renderJson } from "./json.ts";
import { renderMarkdown } from "./markdown.ts";
import { renderText } from "./text.ts";

export const REPORT_FORMATS = ["text", "markdown", "json", "html"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface RenderOptions {
  /** text only: ANSI colour (decide with `shouldColor`). */
  color?: boolean;
  /** text only: line width (default 100). */
  width?: number;
}

export function renderReport(report: Report, format: ReportFormat, options: RenderOptions = {}): string {
  switch (format) {
    case "text":
      return renderText(report, { color: options.color, width: options.width });
    case "markdown":
      return renderMarkdown(report);
    case "json":
      return renderJson(report);
    case "html":
      return renderHtml(report);
  }
}
