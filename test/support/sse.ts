// Reading SSE in tests strictly: every block must be exactly one `event:` and one `data:` line.
import { expect } from 'vitest';

export interface NamedEvent {
  event: string;
  data: Record<string, unknown>;
}

export function parseNamedEvents(text: string): NamedEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.length > 0)
    .map((block) => {
      const [eventLine = '', dataLine = '', ...rest] = block.split('\n');
      expect(rest).toEqual([]);
      expect(eventLine).toMatch(/^event: /);
      expect(dataLine).toMatch(/^data: /);
      return { event: eventLine.slice('event: '.length), data: JSON.parse(dataLine.slice('data: '.length)) };
    });
}
