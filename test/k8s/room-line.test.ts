/** Whose turn it is when room frees up: least recently served first, one at a time, nobody blocked by a waiter that cannot fit. */
import test from 'ava';
import { RoomLine } from '../../src/runners/k8s/room-line.js';

test('with nobody waiting anyone may claim', (t) => {
  const line = new RoomLine();
  t.true(line.mayClaim('a'));
  t.is(line.next(), undefined);
});

test('a workflow that just got room yields to waiters never served; they are woken in join order', (t) => {
  const line = new RoomLine();
  // a and b started first and filled the cluster; c and d found no room.
  line.gotRoom('a', true);
  line.gotRoom('b', true);
  line.wait('c', false);
  line.wait('d', false);
  // a's pod finished: a's own reconcile must not take the room ahead of c and d.
  line.roomFreed();
  t.false(line.mayClaim('a'));
  t.false(line.mayClaim('d'), 'd waits behind c');
  t.true(line.mayClaim('c'));
  t.is(line.next(), 'c');
  t.is(line.woken, 'c');
  t.is(line.next(), undefined, 'one waiter woken at a time');
  // While c is being woken nobody ranked after it takes the room, a included.
  t.false(line.mayClaim('d'));
  t.false(line.mayClaim('a'));
  line.gotRoom('c', true);
  line.turnOver('c');
  t.true(line.mayClaim('d'), 'c had its turn: d is first among those still to try');
  t.false(line.mayClaim('a'));
  t.is(line.next(), 'd');
  line.gotRoom('d', false);
  line.turnOver('d');
  t.false(line.has('d'), 'd got everything it needed: out of the line');
  // Then a and b, served longest ago; c had its turn since room was freed.
  const wake = () => {
    const k = line.next();
    if (k !== undefined) line.turnOver(k);
    return k;
  };
  t.is(wake(), 'a');
  t.is(wake(), 'b');
  t.is(wake(), undefined, 'each waiter tries once per freeing of room');
  line.roomFreed();
  t.deepEqual([wake(), wake(), wake()], ['a', 'b', 'c'], 'least recently served first');
});

test('a waiter whose jobs do not fit keeps its place but does not block the others', (t) => {
  const line = new RoomLine();
  line.wait('gpu-hungry', false);
  line.wait('small', false);
  line.roomFreed();
  t.false(line.mayClaim('small'));
  t.is(line.next(), 'gpu-hungry');
  // It tried: nothing fits the freed CPU room.
  line.wait('gpu-hungry', true);
  line.turnOver('gpu-hungry');
  t.true(line.mayClaim('small'), 'the one that cannot use the room is no longer ahead');
  t.is(line.next(), 'small');
  line.gotRoom('small', false);
  line.turnOver('small');
  // Next time room frees, the GPU waiter is first again.
  line.roomFreed();
  t.is(line.next(), 'gpu-hungry');
});

test('a woken waiter that fails (leaves the line) no longer holds the others up', (t) => {
  const line = new RoomLine();
  line.wait('broken', false);
  line.wait('fine', false);
  t.is(line.next(), 'broken');
  t.false(line.mayClaim('fine'));
  line.leave('broken');
  t.is(line.woken, undefined);
  t.true(line.mayClaim('fine'));
  t.is(line.next(), 'fine');
});

test('leave and forget take a workflow out of turn', (t) => {
  const line = new RoomLine();
  line.wait('a', false);
  line.wait('b', false);
  line.leave('a');
  t.true(line.mayClaim('b'));
  t.is(line.size, 1);
  line.forget('b');
  t.is(line.size, 0);
  t.is(line.next(), undefined);
});
