#!/usr/bin/env python3
"""fakehub.py - a local stand-in for the Hugging Face Hub, for hf-fetch's tests.

    fakehub.py ROOT --port-file FILE [--page-size N] [--tls CERT KEY]
               [--latency SECONDS] [--rate BYTES_PER_S]

--latency waits that long before answering each request (a network's
round trip); --rate caps each connection's file bodies at that many bytes
a second (a per-connection bandwidth limit, as a CDN or a slow link has).
Both shape every request; requests are served in parallel, so a client
with several connections gets several times the bandwidth.

With --tls both ports speak https (the test makes a certificate and
hf-fetch trusts it through CURL_CA_BUNDLE).

Serves, on 127.0.0.1 only, two ports: the Hub (API and /resolve) and a
separate "CDN" origin that /resolve redirects LFS files to, the way the Hub
sends downloads to its CDN.  Paths, JSON shapes, headers and status codes
follow the Hub's (see the project's hub.md):

  GET /api/datasets/ORG/NAME[/revision/REV]        {"id", "sha", "cardData", "siblings", ...}
  GET /api/datasets/ORG/NAME/tree/REV[/PATH]?recursive=true
                                                   JSON array, pages linked by Link: rel="next"
  GET /datasets/ORG/NAME/resolve/REV/PATH          302 to the CDN (LFS files) or 200 + bytes
  GET /cdn/SHA256                                  the bytes (CDN port), Range supported
  GET /api/models/ORG/NAME[/revision/REV], /api/models/ORG/NAME/tree/REV...,
      /ORG/NAME/resolve/REV/PATH                   the same for a model repository

Repositories are folders: ROOT/repos/ORG/NAME/REVISION/... (datasets) or
ROOT/models/ORG/NAME/REVISION/... (models) with the files of
each revision (REVISION is "main" or a percent-encoded branch such as
"refs%2Fconvert%2Fparquet"), plus optional ROOT/repos/ORG/NAME/card.json
(the README's YAML as JSON) and access.json ({"private": true} or
{"gated": "manual"}, and "tokens": [tokens that have access]).
Files with a data extension are LFS files (their etag is their sha256),
except those listed in ROOT/repos/ORG/NAME/nolfs.json (["path", ...]),
which are plain git blobs: listed without "lfs", served by /resolve itself.

Every request is logged to ROOT/requests.log as one line:
    hub|cdn METHOD PATH auth=yes|no range=VALUE|-
Faults are read from ROOT/faults.json at each request: a list of rules
    {"path": "substring", "port": "hub"|"cdn" (default either),
     "times": N (default: always), "status": 503, "retry_after": 1,
     "error_code": "EntryNotFound", "ratelimit": "\"api\";r=0;t=1",
     "cut_after": BYTES (then close), "stall": SECONDS (after cut_after bytes,
     wait before closing), "delay": SECONDS (before answering),
     "ignore_range": true, "corrupt": true,
     "location": URL (with a 3xx status: the redirect's target),
     "retry_after_date": SECONDS (Retry-After as an HTTP-date that many
     seconds from now; may be negative),
     "content_range": "bytes A-B/N" (sent instead of the true one on a 206)}
The first rule that matches (and has times left) applies.

Python standard library only.
"""
import argparse
import email.utils
import hashlib
import http.server
import json
import os
import socketserver
import ssl
import threading
import time
import urllib.parse

LFS_EXT = ('.parquet', '.jsonl', '.json', '.txt', '.csv', '.gz', '.zst', '.arrow', '.safetensors', '.bin')


class State:
    def __init__(self, root, page_size):
        self.root = root
        self.page_size = page_size
        self.lock = threading.Lock()
        self.used = {}          # (faults mtime, rule index) -> times used
        self.ports = {}
        self.scheme = 'http'   # https with --tls
        self.latency = 0.0      # --latency
        self.rate = 0           # --rate, 0: unlimited


def read_json(path, default):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return default


def repo_dir(st, org, name, kind='repos'):
    d = os.path.join(st.root, kind, org, name)
    return d if os.path.isdir(d) else None


def list_files(revdir):
    out = []
    for base, dirs, files in os.walk(revdir):
        dirs.sort()
        for f in sorted(files):
            full = os.path.join(base, f)
            out.append(os.path.relpath(full, revdir))
    return sorted(out)


def file_info(revdir, rel):
    data = open(os.path.join(revdir, rel), 'rb').read()
    git = hashlib.sha1(b'blob %d\0' % len(data) + data).hexdigest()
    sha256 = hashlib.sha256(data).hexdigest()
    nolfs = read_json(os.path.join(os.path.dirname(revdir), 'nolfs.json'), [])
    lfs = rel.lower().endswith(LFS_EXT) and rel not in nolfs
    return data, git, sha256, lfs


def revision_sha(revdir):
    h = hashlib.sha1()
    h.update(os.path.basename(revdir).encode())
    for rel in list_files(revdir):
        h.update(rel.encode() + b'\0' + hashlib.sha256(open(os.path.join(revdir, rel), 'rb').read()).digest())
    return h.hexdigest()


def find_revision(rdir, rev):
    """revision name or commit sha -> (revision folder, sha) or None"""
    for entry in sorted(os.listdir(rdir)):
        d = os.path.join(rdir, entry)
        if not os.path.isdir(d):
            continue
        name = urllib.parse.unquote(entry)
        sha = revision_sha(d)
        if rev in (name, sha):
            return d, sha
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'fakehub/1'

    def log_message(self, fmt, *args):
        pass

    # ---- helpers ----
    def log_request_line(self):
        st = self.server.state
        auth = 'yes' if self.headers.get('Authorization') else 'no'
        rng = self.headers.get('Range') or '-'
        with st.lock, open(os.path.join(st.root, 'requests.log'), 'a') as f:
            f.write('%s %s %s auth=%s range=%s\n' % (self.server.kind, self.command, self.path, auth, rng))

    def fault(self):
        st = self.server.state
        path = os.path.join(st.root, 'faults.json')
        try:
            mtime = os.stat(path).st_mtime_ns
        except FileNotFoundError:
            return None
        rules = read_json(path, [])
        with st.lock:
            for i, r in enumerate(rules):
                if r.get('port', self.server.kind) != self.server.kind:
                    continue
                if r.get('path', '') not in self.path:
                    continue
                key = (mtime, i)
                if 'times' in r and st.used.get(key, 0) >= r['times']:
                    continue
                st.used[key] = st.used.get(key, 0) + 1
                return r
        return None

    def send(self, status, body=b'', headers=None, ctype='application/json'):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Connection', 'close')
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)
        self.close_connection = True

    def error(self, status, code, message):
        body = json.dumps({'error': message}).encode()
        self.send(status, body, {'X-Error-Code': code, 'X-Error-Message': message})

    def send_bytes(self, data, headers, fault):
        """200 or 206 with Range, honouring cut_after / ignore_range / corrupt"""
        fault = fault or {}
        if fault.get('corrupt') and data:
            data = bytes([data[0] ^ 0xff]) + data[1:]
        rng = self.headers.get('Range')
        status, start = 200, 0
        if rng and not fault.get('ignore_range'):
            start = int(rng.split('=')[1].split('-')[0])
            if start >= len(data):
                self.send(416, b'', {'Content-Range': 'bytes */%d' % len(data)})
                return
            # an end, if asked: bytes=A-B includes B
            end = rng.split('=')[1].split('-')[1]
            stop = min(int(end) + 1, len(data)) if end else len(data)
            status = 206
            cr = fault.get('content_range', 'bytes %d-%d/%d' % (start, stop - 1, len(data)))
            headers = dict(headers, **{'Content-Range': cr})
            data = data[:stop]
        body = data[start:]
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Accept-Ranges', 'bytes')
        self.send_header('Connection', 'close')
        self.end_headers()
        cut = fault.get('cut_after')
        if cut is not None:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            if 'stall' in fault:
                time.sleep(fault['stall'])
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        rate = self.server.state.rate
        if rate:
            # at most `rate` bytes a second on this connection
            chunk = max(1, rate // 20)
            t0 = time.monotonic()
            for k in range(0, len(body), chunk):
                self.wfile.write(body[k:k + chunk])
                ahead = (k + chunk) / rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
        else:
            self.wfile.write(body)
        self.close_connection = True

    def access(self, rdir):
        """None if allowed, else sends the error and returns True"""
        acc = read_json(os.path.join(rdir, 'access.json'), {})
        if not (acc.get('private') or acc.get('gated')):
            return None
        auth = self.headers.get('Authorization', '')
        token = auth[len('Bearer '):] if auth.startswith('Bearer ') else None
        if token in acc.get('tokens', []):
            return None
        if acc.get('private') or token is None:
            if acc.get('gated') and token is None:
                self.error(401, 'GatedRepo', 'Access to this dataset is restricted. You must be authenticated to access it.')
            else:
                self.error(401, 'RepoNotFound', 'Repository not found')
            return True
        self.error(403, 'GatedRepo', 'Access to this dataset is restricted and you are not in the authorized list.')
        return True

    # ---- routes ----
    def do_GET(self):
        self.log_request_line()
        if self.server.state.latency:
            time.sleep(self.server.state.latency)
        fault = self.fault()
        if fault and 'delay' in fault:
            time.sleep(fault['delay'])
        if fault and 'status' in fault:
            h = {}
            if 'error_code' in fault:
                h['X-Error-Code'] = fault['error_code']
            if 'retry_after' in fault:
                h['Retry-After'] = str(fault['retry_after'])
            if 'retry_after_date' in fault:
                h['Retry-After'] = email.utils.formatdate(time.time() + fault['retry_after_date'], usegmt=True)
            if 'location' in fault:
                h['Location'] = fault['location']
            if 'ratelimit' in fault:
                h['RateLimit'] = fault['ratelimit']
            self.send(fault['status'], json.dumps({'error': 'injected'}).encode(), h)
            return
        url = urllib.parse.urlsplit(self.path)
        seg = [urllib.parse.unquote(s) for s in url.path.split('/')[1:]]
        query = urllib.parse.parse_qs(url.query)
        if self.server.kind == 'cdn':
            return self.cdn(seg, fault)
        if len(seg) >= 4 and seg[0] == 'api' and seg[1] == 'datasets':
            return self.api(seg[2], seg[3], seg[4:], query)
        if len(seg) >= 6 and seg[0] == 'datasets' and seg[3] == 'resolve':
            return self.resolve(seg[1], seg[2], seg[4], '/'.join(seg[5:]), fault)
        if len(seg) >= 4 and seg[0] == 'api' and seg[1] == 'models':
            return self.api(seg[2], seg[3], seg[4:], query, 'models')
        if len(seg) >= 5 and seg[2] == 'resolve':
            return self.resolve(seg[0], seg[1], seg[3], '/'.join(seg[4:]), fault, 'models')
        self.error(404, 'NotFound', 'Not found')

    def api(self, org, name, rest, query, kind='repos'):
        st = self.server.state
        rdir = repo_dir(st, org, name, kind)
        if not rdir:
            return self.error(401, 'RepoNotFound', 'Repository not found')
        if self.access(rdir):
            return
        if not rest or rest[0] == 'revision':
            rev = rest[1] if len(rest) > 1 else 'main'
            found = find_revision(rdir, rev)
            if not found:
                return self.error(404, 'RevisionNotFound', 'Invalid rev id: %s' % rev)
            revdir, sha = found
            acc = read_json(os.path.join(rdir, 'access.json'), {})
            info = {'_id': sha[:24], 'id': '%s/%s' % (org, name), 'author': org, 'sha': sha,
                    'private': bool(acc.get('private')), 'gated': acc.get('gated', False),
                    'disabled': False, 'downloads': 0, 'likes': 0, 'tags': [],
                    'cardData': read_json(os.path.join(rdir, 'card.json'), None),
                    'siblings': [{'rfilename': p} for p in list_files(revdir)]}
            if info['cardData'] is None:
                del info['cardData']
            return self.send(200, json.dumps(info).encode())
        if rest[0] == 'tree' and len(rest) >= 2:
            found = find_revision(rdir, rest[1])
            if not found:
                return self.error(404, 'RevisionNotFound', 'Invalid rev id: %s' % rest[1])
            revdir, sha = found
            prefix = '/'.join(rest[2:])
            recursive = query.get('recursive', ['false'])[0] == 'true'
            entries, dirs = [], set()
            for rel in list_files(revdir):
                if prefix and not rel.startswith(prefix + '/'):
                    continue
                sub = rel[len(prefix) + 1:] if prefix else rel
                parts = sub.split('/')
                for k in range(1, len(parts)):
                    d = '/'.join(([prefix] if prefix else []) + parts[:k])
                    if d not in dirs and (recursive or k == 1):
                        dirs.add(d)
                        entries.append({'type': 'directory', 'oid': hashlib.sha1(d.encode()).hexdigest(), 'size': 0, 'path': d})
                if not recursive and len(parts) > 1:
                    continue
                data, git, sha256, lfs = file_info(revdir, rel)
                e = {'type': 'file', 'oid': git, 'size': len(data), 'path': rel}
                if lfs:
                    e['lfs'] = {'oid': sha256, 'size': len(data), 'pointerSize': 134}
                entries.append(e)
            cursor = int(query.get('cursor', ['0'])[0])
            page = entries[cursor:cursor + st.page_size]
            headers = {}
            if cursor + st.page_size < len(entries):
                q = dict((k, v[0]) for k, v in query.items())
                q['cursor'] = str(cursor + st.page_size)
                nxt = '%s://127.0.0.1:%d%s?%s' % (st.scheme, st.ports['hub'], urllib.parse.urlsplit(self.path).path,
                                                    urllib.parse.urlencode(q))
                headers['Link'] = '<%s>; rel="next"' % nxt
            return self.send(200, json.dumps(page).encode(), headers)
        if rest[0] == 'parquet':
            return self.error(404, 'NotFound', 'Not found')
        self.error(404, 'NotFound', 'Not found')

    def resolve(self, org, name, rev, path, fault, kind='repos'):
        st = self.server.state
        rdir = repo_dir(st, org, name, kind)
        if not rdir:
            return self.error(401, 'RepoNotFound', 'Repository not found')
        if self.access(rdir):
            return
        found = find_revision(rdir, rev)
        if not found:
            return self.error(404, 'RevisionNotFound', 'Invalid rev id: %s' % rev)
        revdir, sha = found
        if not os.path.isfile(os.path.join(revdir, path)):
            return self.error(404, 'EntryNotFound', '%s does not exist on "%s"' % (path, rev))
        data, git, sha256, lfs = file_info(revdir, path)
        if lfs:
            loc = '%s://127.0.0.1:%d/cdn/%s?X-Amz-Signature=fake&name=%s' % (st.scheme,
                st.ports['cdn'], sha256, urllib.parse.quote(os.path.basename(path)))
            return self.send(302, b'', {'Location': loc, 'X-Repo-Commit': sha,
                                        'X-Linked-Etag': '"%s"' % sha256, 'X-Linked-Size': str(len(data)),
                                        'ETag': '"%s"' % git})
        self.send_bytes(data, {'X-Repo-Commit': sha, 'ETag': '"%s"' % git}, fault)

    def cdn(self, seg, fault):
        st = self.server.state
        if len(seg) == 2 and seg[0] == 'cdn':
            for base, _dirs, files in [w for k in ('repos', 'models') for w in os.walk(os.path.join(st.root, k))]:
                for f in files:
                    p = os.path.join(base, f)
                    data = open(p, 'rb').read()
                    if hashlib.sha256(data).hexdigest() == seg[1]:
                        return self.send_bytes(data, {'ETag': '"%s"' % seg[1]}, fault)
        self.send(403, b'<Error>AccessDenied</Error>', ctype='application/xml')


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('root')
    ap.add_argument('--port-file', required=True)
    ap.add_argument('--page-size', type=int, default=1000)
    ap.add_argument('--tls', nargs=2, metavar=('CERT', 'KEY'),
                    help='serve https with this certificate and key (both ports)')
    ap.add_argument('--latency', type=float, default=0.0, help='seconds before each answer')
    ap.add_argument('--rate', type=int, default=0, help='bytes a second per connection for file bodies')
    a = ap.parse_args()
    st = State(os.path.abspath(a.root), a.page_size)
    st.latency, st.rate = a.latency, a.rate
    st.scheme = 'https' if a.tls else 'http'
    ctx = None
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
    servers = []
    for kind in ('hub', 'cdn'):
        s = Server(('127.0.0.1', 0), Handler)
        s.kind = kind
        s.state = st
        if ctx:
            s.socket = ctx.wrap_socket(s.socket, server_side=True)
        st.ports[kind] = s.server_address[1]
        servers.append(s)
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    tmp = a.port_file + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d %d\n' % (st.ports['hub'], st.ports['cdn']))
    os.rename(tmp, a.port_file)
    servers[0].serve_forever()


if __name__ == '__main__':
    main()
