// `trellis web --listen fd:N`: HTTP on a listening socket the parent process already bound, as a
// service manager's socket activation hands it over. perl binds a loopback port, moves the socket
// to fd 3 and execs Trellis in its place; whatever Trellis serves arrives on that port.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { needPeer } from '../helpers/peers.js';
import { CLI, tempDir } from '../helpers/server.js';

const BIND_AND_EXEC = `
use strict; use IO::Socket::INET; use POSIX ();
$^F = 3; # descriptors up to 3 stay open across exec (the socket may already be fd 3)
my $s = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1) or die "bind: $!";
$| = 1; print "port ", $s->sockport, "\\n";
POSIX::dup2(fileno($s), 3) or die "dup2: $!";
exec @ARGV or die "exec: $!";
`;

test('--listen fd:3 serves HTTP on an inherited listening socket', async (t) => {
  const perl = needPeer(t, 'perl');
  if (!perl) return;
  const dir = tempDir();
  t.after(() => dir.cleanup());
  writeFileSync(join(dir.path, 'hello.txt'), 'inherited socket\n');
  const child = spawn(
    perl,
    ['-e', BIND_AND_EXEC, process.execPath, CLI, 'web', '--path', dir.path, '--listen', 'fd:3'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^port (\d+)$/m.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  // The port was listening before Trellis started: the request waits in the backlog until it accepts.
  const res = await fetch(`http://127.0.0.1:${port}/hello.txt`);
  assert.equal(res.status, 200, err);
  assert.equal(await res.text(), 'inherited socket\n');
  assert.equal((await fetch(`http://127.0.0.1:${port}/missing`)).status, 404);
});

test('--listen fd:N on a descriptor that is not a listening socket: one-line error, non-zero exit', async (t) => {
  const child = spawn(process.execPath, [CLI, 'web', '--path', '.', '--listen', 'fd:9'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.notEqual(code, 0);
  assert.equal(err.trim().split('\n').length, 1, err);
  assert.match(err, /fd:9|descriptor 9/);
});
