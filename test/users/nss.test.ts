import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getentEntry, groupId } from '../../src/users/nss.js';

test('groupId takes a number as given and a name from the group database; null for no such group', () => {
  assert.equal(groupId('4242'), 4242);
  assert.equal(groupId('root'), 0);
  assert.equal(groupId('trnosuchgroup'), null);
});

test('getentEntry gives the fields of a passwd entry, null for no such user', () => {
  const root = getentEntry('passwd', 'root');
  assert.equal(root?.[0], 'root');
  assert.equal(root?.[2], '0');
  assert.equal(getentEntry('passwd', 'trnosuchuser'), null);
});
