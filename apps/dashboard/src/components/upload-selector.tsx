/** Chooses what the log, charts and counters show: every upload, or one. */
import type { UploadStatus } from "@floodwatch/core/stream-contracts";
import { useId } from "react";
import { shortId } from "../lib/format.ts";

/** Value of the "all uploads" option (upload ids are never empty). */
const ALL = "";

/** The upload selector. */
export function UploadSelector({
  uploads,
  selected,
  onSelect,
}: {
  uploads: readonly UploadStatus[];
  selected: string | null;
  onSelect: (uploadId: string | null) => void;
}) {
  const id = useId();
  const known = selected === null || uploads.some((u) => u.uploadId === selected);
  return (
    <div className="flex items-center gap-2 text-sm">
      <label htmlFor={id} className="text-slate-300">
        Show
      </label>
      <select
        id={id}
        data-testid="upload-selector"
        value={selected ?? ALL}
        onChange={(e) => onSelect(e.target.value === ALL ? null : e.target.value)}
        className="max-w-[22rem] rounded border border-slate-600 bg-slate-900 px-2 py-1 text-slate-100"
      >
        <option value={ALL}>All uploads ({uploads.length})</option>
        {known ? null : <option value={selected ?? ALL}>{selected}</option>}
        {uploads.map((u) => (
          <option key={u.uploadId} value={u.uploadId}>
            {u.name} · {shortId(u.uploadId)} · {u.state}
          </option>
        ))}
      </select>
    </div>
  );
}
