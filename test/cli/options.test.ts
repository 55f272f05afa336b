import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CliError,
  closestName,
  editDistance,
  formatHelp,
  parseOptions,
  wrapText,
  HELP_COLUMNS,
} from '../../src/cli/options.js';
import { WEB_OPTIONS } from '../../src/cli/web-config.js';

const names = WEB_OPTIONS.map((s) => s.name);

test('editDistance counts insertions, deletions, substitutions and transpositions', () => {
  assert.equal(editDistance('port', 'port'), 0);
  assert.equal(editDistance('prot', 'port'), 1);
  assert.equal(editDistance('lsten', 'listen'), 1);
  assert.equal(editDistance('abc', ''), 3);
});

test('closestName suggests near names and prefixes, and nothing for far ones', () => {
  assert.equal(closestName('prot', names), 'port');
  assert.equal(closestName('lsiten', names), 'listen');
  assert.equal(closestName('singel', names), 'single');
  assert.equal(closestName('cors-credential', names), 'cors-credentials');
  assert.equal(closestName('vhost-m', names), 'vhost-monster');
  assert.equal(closestName('frobnicate', names), null);
  assert.equal(closestName('x', names), null);
});

test('parseOptions: an unknown long option names the closest one', () => {
  assert.throws(
    () => parseOptions('web', ['--watcj'], WEB_OPTIONS, {} as never),
    (e: unknown) => e instanceof CliError && /did you mean --watch\?/.test(e.message),
  );
});

test('parseOptions: an optional value is taken only after =', () => {
  const specs = [
    {
      name: 'cors',
      value: 'ORIGINS',
      optionalValue: true,
      help: '',
      apply: (c: { v: string[] }, v: string) => void c.v.push(v),
    },
  ];
  const config = { v: [] as string[] };
  const r = parseOptions('web', ['--cors', 'positional', '--cors=a'], specs, config);
  assert.deepEqual(config.v, ['', 'a']);
  assert.deepEqual(r.positional, ['positional']);
});

test('wrapText breaks at spaces within the width and keeps a long word whole', () => {
  assert.deepEqual(wrapText('aa bb cc dd', 5), ['aa bb', 'cc dd']);
  assert.deepEqual(wrapText('a verylongword b', 4), ['a', 'verylongword', 'b']);
});

test('formatHelp keeps every line under 100 columns and ends with the examples', () => {
  const help = formatHelp('Usage: trellis web [options]', WEB_OPTIONS, [['serve a folder', 'trellis web --path .']]);
  for (const line of help.split('\n')) assert.ok(line.length <= HELP_COLUMNS, line);
  assert.match(help, /\n {6}--cors\[=ORIGINS\] +allow cross-origin/);
  assert.match(help, /Examples:\n {2}# serve a folder\n {2}trellis web --path \.\n$/);
});
