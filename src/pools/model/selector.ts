// Calico's label selector language, as IPPool.spec.nodeSelector uses it (pure).
//
// Grammar (|| binds loosest, then &&, then a run of leading !, which negates one operation):
//   or   := and ('||' and)*
//   and  := op ('&&' op)*
//   op   := '!'* ( 'all()' | 'has(' key ')' | key '==' str | key '!=' str | key 'contains' str
//                | key 'starts with' str | key 'ends with' str | key 'in' set | key 'not in' set
//                | '(' or ')' )
//   set  := '{' (str (',' str)*)? '}'          str := "..." | '...' (no escapes)
//   key  := [a-zA-Z0-9_./-]{1,512}
// An empty (or blank) selector matches everything, as all() does.
//
// Semantics follow Calico's evaluator: a label that is absent makes `==`, `in`, `contains`,
// `starts with`, `ends with` and has() false, and makes `!=` and `not in` TRUE (Calico's
// LabelNeValueNode / LabelNotInSetNode). Hence `k != "v"` equals `!(k == "v")` on every label set.

export type Labels = Readonly<Record<string, string>>;

export type Selector =
  | { kind: 'all' }
  | { kind: 'has'; key: string }
  | { kind: 'eq' | 'ne' | 'contains' | 'startsWith' | 'endsWith'; key: string; value: string }
  | { kind: 'in' | 'notIn'; key: string; values: readonly string[] }
  | { kind: 'not'; arg: Selector }
  | { kind: 'and' | 'or'; args: readonly Selector[] };

export type ParsedSelector =
  | { selector: Selector; error?: undefined; position?: undefined }
  | { selector?: undefined; error: string; position: number };

type TokKind =
  | 'label' | 'string' | '{' | '}' | ',' | '==' | '!=' | '!' | '&&' | '||' | '(' | ')'
  | 'in' | 'not in' | 'contains' | 'starts with' | 'ends with' | 'all()' | 'has' | 'eof';

interface Token { kind: TokKind; value: string; pos: number }

class SelectorSyntaxError extends Error {
  readonly position: number;
  constructor(position: number, message: string) { super(message); this.position = position; }
}

const KEY = /^[a-zA-Z0-9_./-]{1,512}/;

function describe(t: Token): string {
  if (t.kind === 'eof') return 'the end of the selector';
  if (t.kind === 'label') return `label ${JSON.stringify(t.value)}`;
  if (t.kind === 'string') return `string ${JSON.stringify(t.value)}`;
  if (t.kind === 'has') return `has(${t.value})`;
  return JSON.stringify(t.kind);
}

function tokenize(input: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const fail = (pos: number, msg: string): never => { throw new SelectorSyntaxError(pos, msg); };
  const skipBlank = (): void => { while (i < input.length && (input[i] === ' ' || input[i] === '\t')) i++; };
  for (;;) {
    skipBlank();
    if (i >= input.length) { out.push({ kind: 'eof', value: '', pos: i }); return out; }
    const start = i;
    const c = input[i]!;
    const push = (kind: TokKind, len: number, value = ''): void => { out.push({ kind, value, pos: start }); i += len; };
    const rest = input.slice(i);
    if (c === '(' || c === ')' || c === '{' || c === '}' || c === ',') { push(c, 1); continue; }
    if (c === '"' || c === "'") {
      const end = input.indexOf(c, i + 1);
      if (end < 0) fail(start, `unterminated string: expected a closing ${c}`);
      out.push({ kind: 'string', value: input.slice(i + 1, end), pos: start });
      i = end + 1;
      continue;
    }
    if (rest.startsWith('==')) { push('==', 2); continue; }
    if (rest.startsWith('!=')) { push('!=', 2); continue; }
    if (c === '!') { push('!', 1); continue; }
    if (rest.startsWith('&&')) { push('&&', 2); continue; }
    if (rest.startsWith('||')) { push('||', 2); continue; }
    if (c === '=' || c === '&' || c === '|') fail(start, `expected ${c}${c} (a single ${c} is not an operator)`);
    if (out.at(-1)?.kind === 'label') {
      // After a label comes an operator word.
      const word = /^(contains|starts|ends|not|in)(?![a-zA-Z0-9_./-])/.exec(rest)?.[1];
      if (word === 'contains' || word === 'in') { push(word, word.length); continue; }
      if (word === 'starts' || word === 'ends' || word === 'not') {
        i += word.length;
        skipBlank();
        const second = word === 'not' ? 'in' : 'with';
        if (!new RegExp(`^${second}(?![a-zA-Z0-9_./-])`).test(input.slice(i))) fail(i, `expected "${second}" after "${word}"`);
        i += second.length;
        out.push({ kind: (word === 'not' ? 'not in' : `${word} with`) as TokKind, value: '', pos: start });
        continue;
      }
      fail(start, 'expected an operator (==, !=, in, not in, contains, starts with, ends with) after label ' +
        JSON.stringify(out.at(-1)!.value));
    }
    if (rest.startsWith('has(')) {
      i += 4;
      skipBlank();
      const key = KEY.exec(input.slice(i))?.[0];
      if (!key) fail(i, 'expected a label name in has(…)');
      i += key!.length;
      skipBlank();
      if (input[i] !== ')') fail(i, 'expected ")" to close has(');
      i++;
      out.push({ kind: 'has', value: key!, pos: start });
      continue;
    }
    if (rest.startsWith('all(')) {
      i += 4;
      skipBlank();
      if (input[i] !== ')') fail(i, 'expected ")" after all(');
      i++;
      out.push({ kind: 'all()', value: '', pos: start });
      continue;
    }
    const key = KEY.exec(rest)?.[0];
    if (key) { push('label', key.length, key); continue; }
    fail(start, `unexpected character ${JSON.stringify(c)}: expected a label, has(…), all(), "!" or "("`);
  }
}

class Parser {
  private i = 0;
  private readonly toks: Token[];
  constructor(toks: Token[]) { this.toks = toks; }
  private peek(): Token { return this.toks[this.i]!; }
  private take(): Token { return this.toks[this.i++]!; }
  private fail(t: Token, expected: string): never {
    throw new SelectorSyntaxError(t.pos, `expected ${expected}, found ${describe(t)}`);
  }

  parseRoot(): Selector {
    if (this.peek().kind === 'eof') return { kind: 'all' };
    const s = this.parseOr();
    const t = this.peek();
    if (t.kind !== 'eof') this.fail(t, '"&&", "||" or the end of the selector');
    return s;
  }

  private parseOr(): Selector {
    const args = [this.parseAnd()];
    while (this.peek().kind === '||') { this.take(); args.push(this.parseAnd()); }
    return args.length === 1 ? args[0]! : { kind: 'or', args };
  }

  private parseAnd(): Selector {
    const args = [this.parseOp()];
    while (this.peek().kind === '&&') { this.take(); args.push(this.parseOp()); }
    return args.length === 1 ? args[0]! : { kind: 'and', args };
  }

  private parseOp(): Selector {
    let negated = false;
    while (this.peek().kind === '!') { this.take(); negated = !negated; }
    const s = this.parseAtom();
    return negated ? { kind: 'not', arg: s } : s;
  }

  private parseString(): string {
    const t = this.take();
    if (t.kind !== 'string') this.fail(t, 'a quoted string');
    return t.value;
  }

  private parseAtom(): Selector {
    const t = this.take();
    switch (t.kind) {
      case 'all()': return { kind: 'all' };
      case 'has': return { kind: 'has', key: t.value };
      case '(': {
        const s = this.parseOr();
        const close = this.take();
        if (close.kind !== ')') this.fail(close, '")"');
        return s;
      }
      case 'label': {
        const op = this.take();
        const key = t.value;
        switch (op.kind) {
          case '==': return { kind: 'eq', key, value: this.parseString() };
          case '!=': return { kind: 'ne', key, value: this.parseString() };
          case 'contains': return { kind: 'contains', key, value: this.parseString() };
          case 'starts with': return { kind: 'startsWith', key, value: this.parseString() };
          case 'ends with': return { kind: 'endsWith', key, value: this.parseString() };
          case 'in': case 'not in': {
            const open = this.take();
            if (open.kind !== '{') this.fail(open, 'a set literal "{…}"');
            const values: string[] = [];
            if (this.peek().kind !== '}') {
              values.push(this.parseString());
              while (this.peek().kind === ',') { this.take(); values.push(this.parseString()); }
            }
            const close = this.take();
            if (close.kind !== '}') this.fail(close, '"," or "}"');
            return { kind: op.kind === 'in' ? 'in' : 'notIn', key, values: [...new Set(values)].sort() };
          }
          default: return this.fail(op, `an operator after label ${JSON.stringify(key)}`);
        }
      }
      default: return this.fail(t, 'a label, has(…), all(), "!" or "("');
    }
  }
}

/** Parse a selector, or say where (0-based character offset) and what was expected. */
export function parseSelector(text: string): ParsedSelector {
  try {
    return { selector: new Parser(tokenize(text)).parseRoot() };
  } catch (e) {
    if (e instanceof SelectorSyntaxError) return { error: `at character ${e.position}: ${e.message}`, position: e.position };
    throw e;
  }
}

/** Does the selector match these labels? */
export function matches(s: Selector, labels: Labels): boolean {
  const get = (k: string): string | undefined => (Object.hasOwn(labels, k) ? labels[k] : undefined);
  switch (s.kind) {
    case 'all': return true;
    case 'has': return get(s.key) !== undefined;
    case 'eq': return get(s.key) === s.value;
    case 'ne': return get(s.key) !== s.value; // absent: true
    case 'contains': { const v = get(s.key); return v !== undefined && v.includes(s.value); }
    case 'startsWith': { const v = get(s.key); return v !== undefined && v.startsWith(s.value); }
    case 'endsWith': { const v = get(s.key); return v !== undefined && v.endsWith(s.value); }
    case 'in': { const v = get(s.key); return v !== undefined && s.values.includes(v); }
    case 'notIn': { const v = get(s.key); return v === undefined || !s.values.includes(v); } // absent: true
    case 'not': return !matches(s.arg, labels);
    case 'and': return s.args.every((a) => matches(a, labels));
    case 'or': return s.args.some((a) => matches(a, labels));
  }
}

function quote(v: string): string {
  return v.includes('"') ? `'${v}'` : `"${v}"`;
}

/** Canonical text of a selector; parsing it gives the same selector back. */
export function formatSelector(s: Selector): string {
  switch (s.kind) {
    case 'all': return 'all()';
    case 'has': return `has(${s.key})`;
    case 'eq': return `${s.key} == ${quote(s.value)}`;
    case 'ne': return `${s.key} != ${quote(s.value)}`;
    case 'contains': return `${s.key} contains ${quote(s.value)}`;
    case 'startsWith': return `${s.key} starts with ${quote(s.value)}`;
    case 'endsWith': return `${s.key} ends with ${quote(s.value)}`;
    case 'in': return `${s.key} in {${s.values.map(quote).join(', ')}}`;
    case 'notIn': return `${s.key} not in {${s.values.map(quote).join(', ')}}`;
    case 'not': return `!(${formatSelector(s.arg)})`;
    case 'and': return s.args.map((a) => `(${formatSelector(a)})`).join(' && ');
    case 'or': return s.args.map((a) => `(${formatSelector(a)})`).join(' || ');
  }
}
