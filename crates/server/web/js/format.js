// Small display helpers the views share: times, sizes, durations, and a definition list of facts.

/** Short, local date and time for a timestamp. */
export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const today = new Date().toDateString() === date.toDateString();
  return today
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString([], { month: "short", day: "numeric" }) +
        " " + date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** A byte count in B, KB, MB or GB. */
export function bytes(count) {
  if (count == null) return "–";
  const units = ["B", "KB", "MB", "GB"];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

/** Seconds as the two largest units ("2 h 5 min"). */
export function duration(seconds) {
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (days) return `${days} d ${hours} h`;
  if (hours) return `${hours} h ${minutes} min`;
  if (minutes) return `${minutes} min`;
  return `${seconds} s`;
}

/** Fills a `<dl>` with label/value rows (a dash for a missing value). */
export function facts(list, rows) {
  list.replaceChildren();
  for (const [label, value] of rows) {
    const term = document.createElement("dt");
    term.textContent = label;
    const detail = document.createElement("dd");
    detail.textContent = value == null || value === "" ? "–" : String(value);
    list.append(term, detail);
  }
}
