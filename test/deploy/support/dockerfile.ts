/**
 * Reads the repository's Dockerfile into stages and instructions, enough to check what the image
 * installs, copies and runs: continuation lines joined, comments dropped, exec-form arguments parsed.
 */
import { posix } from 'node:path';

export interface DockerInstruction {
  /** Upper-case keyword: RUN, COPY, ENV, … */
  readonly keyword: string;
  /** Everything after the keyword, continuation lines joined with a space. */
  readonly args: string;
  /** 1-based line of the keyword in the file. */
  readonly line: number;
}

export interface DockerStage {
  readonly name: string | undefined;
  readonly from: string;
  readonly instructions: readonly DockerInstruction[];
}

export interface Dockerfile {
  readonly stages: readonly DockerStage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const instructions: DockerInstruction[] = [];
  let pending: { keyword: string; parts: string[]; line: number } | undefined;
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const trimmed = raw.trim();
    // Docker drops comment lines, even in the middle of a continued instruction.
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const continues = trimmed.endsWith('\\');
    const content = continues ? trimmed.slice(0, -1).trim() : trimmed;
    if (pending) {
      pending.parts.push(content);
    } else {
      const match = /^(\S+)\s*(.*)$/.exec(content);
      if (!match) throw new Error(`Dockerfile line ${index + 1}: cannot read "${raw}"`);
      pending = { keyword: match[1].toUpperCase(), parts: [match[2]], line: index + 1 };
    }
    if (!continues) {
      instructions.push({ keyword: pending.keyword, args: pending.parts.filter((p) => p !== '').join(' '), line: pending.line });
      pending = undefined;
    }
  });
  if (pending) throw new Error(`Dockerfile ends inside a continued ${pending.keyword} (line ${pending.line})`);

  const stages: { name: string | undefined; from: string; instructions: DockerInstruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const match = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!match) throw new Error(`Dockerfile line ${instruction.line}: cannot read FROM ${instruction.args}`);
      stages.push({ from: match[1], name: match[2], instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(instruction);
    } else if (instruction.keyword !== 'ARG') {
      throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} before the first FROM`);
    }
  }
  return { stages };
}

/** The JSON (exec) form of CMD, ENTRYPOINT, RUN or HEALTHCHECK CMD; undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  const trimmed = args.trim();
  if (!trimmed.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(trimmed);
  if (!Array.isArray(parsed) || !parsed.every((item): item is string => typeof item === 'string')) {
    throw new Error(`not an exec form of strings: ${args}`);
  }
  return parsed;
}

/** Splits a shell-like word list, honouring single and double quotes (no expansions). */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quote) {
      if (char === quote) quote = undefined;
      else if (char === '\\' && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += char;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated quote in: ${text}`);
  if (inWord) words.push(current);
  return words;
}

/** The shell commands of a RUN instruction (split on && ; ||), each as its words. */
export function runCommands(instruction: DockerInstruction): string[][] {
  return instruction.args
    .split(/&&|\|\||;/)
    .map((command) => shellWords(command))
    .filter((words) => words.length > 0);
}

/** The variables a stage's ENV instructions set (KEY=value pairs, or the legacy `ENV KEY value`). */
export function stageEnv(stage: DockerStage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const instruction of stage.instructions.filter((i) => i.keyword === 'ENV')) {
    const words = shellWords(instruction.args);
    if (words.length > 0 && !words[0].includes('=')) {
      env[words[0]] = words.slice(1).join(' ');
      continue;
    }
    for (const word of words) {
      const at = word.indexOf('=');
      if (at <= 0) throw new Error(`Dockerfile line ${instruction.line}: cannot read ENV ${instruction.args}`);
      env[word.slice(0, at)] = word.slice(at + 1);
    }
  }
  return env;
}

export function lastInstruction(stage: DockerStage, keyword: string): DockerInstruction | undefined {
  return [...stage.instructions].reverse().find((i) => i.keyword === keyword);
}

/** The stage's working directory after its WORKDIR instructions (absolute; `/` when none). */
export function stageWorkdir(stage: DockerStage): string {
  let dir = '/';
  for (const instruction of stage.instructions.filter((i) => i.keyword === 'WORKDIR')) {
    dir = posix.resolve(dir, instruction.args.trim());
  }
  return dir;
}

export interface CopyInstruction {
  readonly from: string | undefined;
  readonly sources: readonly string[];
  readonly destination: string;
}

/** COPY instructions of a stage, with their --from and paths (flags other than --from ignored). */
export function stageCopies(stage: DockerStage): CopyInstruction[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
    .map((instruction) => {
      const json = execForm(instruction.args);
      const words = json ?? shellWords(instruction.args);
      const flags = words.filter((w) => w.startsWith('--'));
      const paths = words.filter((w) => !w.startsWith('--'));
      if (paths.length < 2) throw new Error(`Dockerfile line ${instruction.line}: COPY needs a source and a destination`);
      const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
      return { from, sources: paths.slice(0, -1), destination: paths[paths.length - 1] };
    });
}

/** The image's ENTRYPOINT and CMD (exec forms) as the final stage leaves them. */
export function imageCommand(stage: DockerStage): { entrypoint: string[]; cmd: string[] } {
  const entrypoint = lastInstruction(stage, 'ENTRYPOINT');
  const cmd = lastInstruction(stage, 'CMD');
  const form = (instruction: DockerInstruction | undefined): string[] => {
    if (!instruction) return [];
    const parsed = execForm(instruction.args);
    // The shell form runs under /bin/sh -c, which does not pass signals on to node.
    if (!parsed) throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} must use the exec (JSON) form`);
    return parsed;
  };
  return { entrypoint: form(entrypoint), cmd: form(cmd) };
}
