// A Node `ws` 8 server for sockeye's interop tests (crates/sockeye/tests/interop_node.rs).
//
// Usage: node ws_server.js            (NODE_PATH must hold the `ws` package)
//
// Binds 127.0.0.1 port 0 and prints `port N` on stdout, then one tab-separated event per line:
//
//     open      PATH  SUBPROTOCOL|-  EXTENSIONS|-
//     message   text|binary  LENGTH
//     pong      PAYLOAD
//     closed    RCVD_CODE  RCVD_REASON
//
// What a connection gets depends on its path:
//
//     /echo               echoes every message, text as text and binary as binary
//     /fragments          sends "frag"+"ment"+"ed" as one fragmented text message, then
//                         [0x00 0x01]+[]+[0xff] as one fragmented binary message, then echoes
//     /ping               pings with "from-node", and on the pong sends "pong received", then echoes
//     /close?code=C&reason=R   closes with that code and reason
//
// It serves until killed, and exits by itself after 120 s in case nobody does.
'use strict';

const { WebSocketServer } = require('ws');

const emit = (...fields) => process.stdout.write(fields.join('\t') + '\n');

const server = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: true,
  handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
  maxPayload: 64 * 1024 * 1024,
});

server.on('listening', () => emit('port', server.address().port));

server.on('connection', (ws, request) => {
  const url = new URL(request.url, 'ws://127.0.0.1');
  emit('open', url.pathname, ws.protocol || '-', ws.extensions || '-');
  ws.on('message', (data, isBinary) => {
    emit('message', isBinary ? 'binary' : 'text', data.length);
    ws.send(data, { binary: isBinary });
  });
  ws.on('pong', (payload) => {
    emit('pong', payload.toString());
    ws.send('pong received');
  });
  ws.on('close', (code, reason) => emit('closed', code, reason.toString() || '-'));
  ws.on('error', (err) => emit('error', err.message));

  if (url.pathname === '/fragments') {
    ws.send('frag', { fin: false });
    ws.send('ment', { fin: false });
    ws.send('ed', { fin: true });
    ws.send(Buffer.from([0x00, 0x01]), { binary: true, fin: false });
    ws.send(Buffer.alloc(0), { binary: true, fin: false });
    ws.send(Buffer.from([0xff]), { binary: true, fin: true });
  } else if (url.pathname === '/ping') {
    ws.ping('from-node');
  } else if (url.pathname === '/close') {
    const code = Number(url.searchParams.get('code') || 1000);
    ws.close(code, url.searchParams.get('reason') || '');
  }
});

setTimeout(() => process.exit(3), 120_000).unref();
