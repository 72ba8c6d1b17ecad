// A Node `ws` 8 client for sockeye's interop tests (crates/sockeye/tests/interop_node.rs).
//
// Usage: node ws_client.js URL SCENARIO      (NODE_PATH must hold the `ws` package)
//
// Prints one tab-separated event per line on stdout:
//
//     open      SUBPROTOCOL|-  EXTENSIONS|-
//     echo      text|binary  LENGTH  ok|mismatch
//     ping      PAYLOAD        (a ping from the server; ws answers it by itself)
//     pong      PAYLOAD
//     closed    CODE  REASON|-
//
// Scenarios:
//
//     echo      sends text, binary, a 70000-byte text, an empty binary, and a text and a binary
//               message in fragments; checks each echo; closes with 1000 "bye"
//     ping      pings with "from-node", waits for the pong, closes with 1000
//     wait      waits for the server's pings and its close (the server ends the conversation)
//     close     closes with 4000 "node done"
//
// Exits 0 after the close, 1 on a mismatch or an error, 3 after 60 s.
'use strict';

const { WebSocket } = require('ws');

const [url, scenario] = process.argv.slice(2);
const emit = (...fields) => process.stdout.write(fields.join('\t') + '\n');
let failed = false;

const ws = new WebSocket(url, ['chat'], { perMessageDeflate: true, handshakeTimeout: 10_000 });

// What the echo scenario sends, in order; each entry is [data, isBinary, fragments or null].
const bigText = 'aé€😀'.repeat(7000); // 70000 bytes of UTF-8 (1 + 2 + 3 + 4 per repeat)
const echoes = [
  ['hello from node', false, null],
  [Buffer.from([0, 1, 2, 254, 255]), true, null],
  [bigText, false, null],
  [Buffer.alloc(0), true, null],
  ['fragmented text', false, ['frag', 'mented', ' text']],
  [Buffer.from([9, 8, 7, 6]), true, [Buffer.from([9, 8]), Buffer.from([7, 6])]],
];
let next = 0;

function sendNextEcho() {
  if (next === echoes.length) {
    ws.close(1000, 'bye');
    return;
  }
  const [data, isBinary, fragments] = echoes[next];
  if (fragments === null) {
    ws.send(data, { binary: isBinary });
  } else {
    fragments.forEach((part, i) =>
      ws.send(part, { binary: isBinary, fin: i === fragments.length - 1 }),
    );
  }
}

ws.on('open', () => {
  emit('open', ws.protocol || '-', ws.extensions || '-');
  if (scenario === 'echo') sendNextEcho();
  else if (scenario === 'ping') ws.ping('from-node');
  else if (scenario === 'close') ws.close(4000, 'node done');
});

ws.on('message', (data, isBinary) => {
  if (scenario !== 'echo') {
    emit('message', isBinary ? 'binary' : 'text', data.length);
    return;
  }
  const [expected, expectedBinary] = echoes[next];
  const want = Buffer.isBuffer(expected) ? expected : Buffer.from(expected);
  const ok = isBinary === expectedBinary && Buffer.compare(data, want) === 0;
  if (!ok) failed = true;
  emit('echo', isBinary ? 'binary' : 'text', data.length, ok ? 'ok' : 'mismatch');
  next += 1;
  sendNextEcho();
});

ws.on('ping', (payload) => emit('ping', payload.toString()));
ws.on('pong', (payload) => {
  emit('pong', payload.toString());
  if (scenario === 'ping') ws.close(1000, '');
});
ws.on('close', (code, reason) => {
  emit('closed', code, reason.toString() || '-');
  process.exit(failed ? 1 : 0);
});
ws.on('error', (err) => {
  emit('error', err.message);
  process.exit(1);
});

setTimeout(() => process.exit(3), 60_000).unref();
