/** The longest error text kept from an answer of the VMM. */
const MAX_ERROR_TEXT = 2000;

/**
 * The text of a Cloud Hypervisor error body: since v47 a JSON array of
 * strings (the error chain, outermost first), joined with ": "; before, plain
 * text. Anything else is kept as it came, cut to a bounded length.
 */
export function errorBodyText(body: string): string {
  let text = body.trim();
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed) && parsed.every((s) => typeof s === 'string')) text = parsed.join(': ');
    else if (typeof parsed === 'string') text = parsed;
  } catch {
    // plain text (v46 and older)
  }
  return text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text;
}
