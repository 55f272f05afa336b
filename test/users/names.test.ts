import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAccountName } from '../../src/users/names.js';

test('isAccountName takes login and group names and numeric ids', () => {
  for (const name of ['alice', 'www-data', 'svc.web', '_apt', '1000', 'a'.repeat(32)])
    assert.equal(isAccountName(name), true, name);
});

test('isAccountName refuses names no system tool gives: a leading - or ., spaces, slashes, over 32 characters', () => {
  for (const name of ['', '-x', '.x', 'a b', '../x', 'a/b', 'a:b', 'a\n', 'a'.repeat(33)])
    assert.equal(isAccountName(name), false, JSON.stringify(name));
});
