// What the kernel says about a process: CPU time and memory from /proc, and which of our children
// are workerd. Linux only, which is where the benchmark is meant to run.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** `/proc/<pid>/stat` fields; the command name may contain spaces and parentheses, so split after it. */
function statFields(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    return {
      comm: text.slice(text.indexOf('(') + 1, close),
      // After ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
      rest: text.slice(close + 2).split(' '),
    };
  } catch {
    return null;
  }
}

/** User + system CPU time of one process (all its threads), in ms; null once it has exited. */
export function cpuMs(pid) {
  const fields = statFields(pid);
  if (!fields) return null;
  const utime = Number(fields.rest[11]);
  const stime = Number(fields.rest[12]);
  return ((utime + stime) * 1000) / clockTicks;
}

/** Resident set size now and its high-water mark, in KiB. */
export function memoryKiB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN);
    return { rss: field('VmRSS'), hwm: field('VmHWM') };
  } catch {
    return null;
  }
}

/** Pids of the live children of `parent` whose command name starts with `name`. */
export function childPids(parent, name) {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields && Number(fields.rest[1]) === parent && fields.comm.startsWith(name)) pids.push(Number(entry));
  }
  return pids;
}

export function isAlive(pid) {
  const fields = statFields(pid);
  return fields !== null && fields.rest[0] !== 'Z';
}

/** Samples the RSS of some processes until stopped; reports the largest sum seen, in KiB. */
export function sampleRss(pids, everyMs = 200) {
  let peak = 0;
  const sample = () => {
    let sum = 0;
    for (const pid of pids) sum += memoryKiB(pid)?.rss || 0;
    peak = Math.max(peak, sum);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return () => {
    clearInterval(timer);
    sample();
    return peak;
  };
}

/** CPU time per thread of one process, in ms, keyed by thread id. */
export function threadCpuMs(pid) {
  const threads = new Map();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const ms = cpuMs(`${pid}/task/${tid}`);
      if (ms !== null) threads.set(tid, ms);
    }
  } catch {
    // The process has exited.
  }
  return threads;
}

/** The largest CPU time any one thread used between two `threadCpuMs` snapshots, in ms. */
export function busiestThreadMs(before, after) {
  let most = 0;
  for (const [tid, ms] of after) most = Math.max(most, ms - (before.get(tid) ?? 0));
  return most;
}

/** CPU time the whole machine spent busy (not idle or waiting for I/O), in ms summed over cores. */
export function machineBusyMs() {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already counted in user).
  const busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7];
  return (busy * 1000) / clockTicks;
}
