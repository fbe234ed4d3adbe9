// When the confirm step of a two-step destructive button (components/ui.tsx ConfirmButton) may
// act: the confirm button appears where the first one was (React keeps the same element), so the
// second click of a double-click lands on it. Only a press of its own counts.

/**
 * Whether a press on the confirm button is a deliberate second action: a single click (`detail`
 * 1) or a keyboard press (0), not the second or third click of a double- or triple-click, which
 * the browser counts by place and time whatever element is under the pointer now.
 */
export function confirmAccepted(detail: number): boolean {
  return detail <= 1;
}
