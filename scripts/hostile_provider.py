#!/usr/bin/env python3
"""A hostile provider on 127.0.0.1, for measuring what it costs chorus (not run by CI).

    python3 scripts/hostile_provider.py 18931 chat   # a chat reply that never ends, fast
    python3 scripts/hostile_provider.py 18931 b64    # a 60 MB b64_json image reply
    python3 scripts/hostile_provider.py 18931 bomb   # a 10000x10000 PNG (about 100 KB) as b64_json

Point an `openai` Artist and an `openai-images` Brush (model gpt-image-1) at
http://127.0.0.1:18931/v1, then: /usr/bin/time -f "%e s, peak RSS %M KB" chorus generate
"""
import base64, http.server, sys, zlib, struct
MODE = sys.argv[2]
def png_bomb():
    w = h = 10000
    raw = b''.join(b'\x00' + b'\x00' * w for _ in range(h))
    def chunk(k, d): return struct.pack('>I', len(d)) + k + d + struct.pack('>I', zlib.crc32(k + d) & 0xffffffff)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b'')
BOMB = base64.b64encode(png_bomb()) if MODE == 'bomb' else None
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.0'
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get('content-length', 0)))
        self.send_response(200); self.send_header('content-type', 'application/json'); self.end_headers()
        try:
            if self.path.endswith('/chat/completions'):
                if MODE == 'chat':
                    self.wfile.write(b'{"choices":[{"message":{"content":"')
                    while True: self.wfile.write(b'rain ' * 20000)
                self.wfile.write(b'{"choices":[{"message":{"content":"===ARTIST STATEMENT===\\nS\\n\\n===FINAL IMAGE PROMPT===\\nP"}}]}')
            elif MODE == 'bomb':
                self.wfile.write(b'{"data":[{"b64_json":"' + BOMB + b'"}]}')
            else:
                self.wfile.write(b'{"data":[{"b64_json":"' + b'A' * (60 * 1024 * 1024) + b'"}]}')
        except (BrokenPipeError, ConnectionResetError): pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
