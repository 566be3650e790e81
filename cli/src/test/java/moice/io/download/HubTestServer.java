package moice.io.download;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A local imitation of the Hugging Face Hub for one repository, in the Hub's URL layout: the revision API, resolve
 * URLs (plain files served directly with a git-blob ETag; LFS files redirected to a second server, the "CDN", with
 * X-Linked-Size / X-Linked-Etag), Range requests, and switches for failures: a connection dropped mid-file, a stall,
 * ignored Range headers, corrupted content, gated access. The CDN rejects requests carrying a token, as presigned
 * CDN URLs do.
 */
final class HubTestServer implements AutoCloseable {
    record Request(String server, String method, String path, String range, String authorization, int status) {
    }

    final String repo;
    volatile String commit = "1111111111111111111111111111111111111111";
    final Set<String> branches = new LinkedHashSet<>(List.of("main"));
    final Map<String, byte[]> files = Collections.synchronizedMap(new LinkedHashMap<>());
    final Set<String> lfs = Collections.synchronizedSet(new LinkedHashSet<>());
    /** Files answering a resolve HEAD/GET with a relative redirect to another path (as for a renamed repo). */
    final Map<String, String> relativeRedirects = Collections.synchronizedMap(new LinkedHashMap<>());
    final Set<String> corrupted = Collections.synchronizedSet(new LinkedHashSet<>());
    final List<Request> requests = Collections.synchronizedList(new ArrayList<>());

    /** 0: public; 401 or 403: gated unless the request carries {@link #acceptedToken}. */
    volatile int gatedStatus;
    volatile String acceptedToken = "hf_test_token";
    /** The file the one-shot faults below apply to. */
    volatile String faultPath = "model.safetensors";
    /** The next transfer of {@link #faultPath} writes this many bytes, then closes the connection (one shot). */
    volatile long dropAfterBytes = -1;
    /** The next transfer of {@link #faultPath} writes this many bytes, then pauses {@link #stallMillis}. */
    volatile long stallAfterBytes = -1;
    volatile long stallMillis;
    volatile boolean ignoreRange;

    private final HttpServer hub;
    private final HttpServer cdn;
    private final ExecutorService executor = Executors.newCachedThreadPool();
    private boolean closed;

    HubTestServer(String repo) throws IOException {
        this.repo = repo;
        hub = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        cdn = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        hub.createContext("/", this::handleHub);
        cdn.createContext("/", this::handleCdn);
        hub.setExecutor(executor);
        cdn.setExecutor(executor);
        hub.start();
        cdn.start();
    }

    URI endpoint() {
        return URI.create("http://127.0.0.1:" + hub.getAddress().getPort());
    }

    void put(String path, byte[] content, boolean isLfs) {
        files.put(path, content);
        if (isLfs) lfs.add(path);
        else lfs.remove(path);
    }

    List<Request> requests(String server, String method) {
        synchronized (requests) {
            return requests.stream().filter(r -> r.server.equals(server) && r.method.equals(method)).toList();
        }
    }

    /** GETs of the bytes of {@code path}, whether served by the hub (plain) or the CDN (LFS). */
    List<Request> contentGets(String path) {
        String cdnPath = "/blobs/" + sha256(files.get(path));
        synchronized (requests) {
            return requests.stream().filter(r -> r.method.equals("GET")
                    && (r.path.equals(cdnPath) || r.path.endsWith("/resolve/" + commit + "/" + path)
                    && !lfs.contains(path))).toList();
        }
    }

    static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static String gitBlobSha1(byte[] data) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-1");
            d.update(("blob " + data.length + "\0").getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(d.digest(data));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static final Pattern API = Pattern.compile("/api/models/([^/]+/[^/]+)/revision/([^/]+)");
    private static final Pattern RESOLVE = Pattern.compile("/([^/]+/[^/]+)/resolve/([^/]+)/(.+)");

    private void handleHub(HttpExchange ex) throws IOException {
        String rawPath = ex.getRequestURI().getRawPath();
        try (ex) {
            Matcher api = API.matcher(rawPath);
            Matcher resolve = RESOLVE.matcher(rawPath);
            if (api.matches()) {
                if (!checkRepoAndRevision(ex, api.group(1), decode(api.group(2)))) return;
                StringBuilder json = new StringBuilder("{\"_id\":\"abc\",\"id\":\"" + repo + "\",\"sha\":\"" + commit
                        + "\",\"private\":false,\"siblings\":[");
                int i = 0;
                synchronized (files) {
                    for (String f : files.keySet()) {
                        json.append(i++ == 0 ? "" : ",").append("{\"rfilename\":\"").append(f).append("\"}");
                    }
                }
                json.append("]}");
                byte[] body = json.toString().getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().set("Content-Type", "application/json");
                respond(ex, "hub", 200, body.length);
                ex.getResponseBody().write(body);
            } else if (resolve.matches()) {
                String revision = decode(resolve.group(2));
                if (!checkRepoAndRevision(ex, resolve.group(1), revision)) return;
                String path = decode(resolve.group(3));
                String moved = relativeRedirects.get(path);
                if (moved != null) {
                    ex.getResponseHeaders().set("Location", "/" + repo + "/resolve/" + resolve.group(2) + "/" + moved);
                    respond(ex, "hub", 307, -1);
                    return;
                }
                byte[] content = files.get(path);
                if (content == null) {
                    ex.getResponseHeaders().set("X-Error-Code", "EntryNotFound");
                    respond(ex, "hub", 404, -1);
                    return;
                }
                ex.getResponseHeaders().set("X-Repo-Commit", commit);
                if (lfs.contains(path)) {
                    String sha = sha256(content);
                    ex.getResponseHeaders().set("X-Linked-Size", Long.toString(content.length));
                    ex.getResponseHeaders().set("X-Linked-Etag", "\"" + sha + "\"");
                    ex.getResponseHeaders().set("ETag", "\"" + sha + "\"");
                    URI cdnUri = URI.create("http://127.0.0.1:" + cdn.getAddress().getPort() + "/blobs/" + sha
                            + "?X-Amz-Signature=test");
                    ex.getResponseHeaders().set("Location", cdnUri.toString());
                    respond(ex, "hub", 302, -1);
                } else {
                    ex.getResponseHeaders().set("ETag", "\"" + gitBlobSha1(content) + "\"");
                    serveContent(ex, "hub", path, content);
                }
            } else {
                respond(ex, "hub", 404, -1);
            }
        }
    }

    private boolean checkRepoAndRevision(HttpExchange ex, String requestedRepo, String revision) throws IOException {
        boolean authorized = ("Bearer " + acceptedToken).equals(ex.getRequestHeaders().getFirst("Authorization"));
        if (!requestedRepo.equals(repo)) {
            // The Hub answers 401 for a repository it cannot show to this caller, whether or not it exists.
            ex.getResponseHeaders().set("X-Error-Code", "RepoNotFound");
            ex.getResponseHeaders().set("X-Error-Message", "Repository not found");
            respond(ex, "hub", 401, -1);
            return false;
        }
        if (gatedStatus != 0 && !authorized) {
            ex.getResponseHeaders().set("X-Error-Code", "GatedRepo");
            respond(ex, "hub", gatedStatus, -1);
            return false;
        }
        if (!branches.contains(revision) && !revision.equals(commit)) {
            ex.getResponseHeaders().set("X-Error-Code", "RevisionNotFound");
            respond(ex, "hub", 404, -1);
            return false;
        }
        return true;
    }

    private void handleCdn(HttpExchange ex) throws IOException {
        try (ex) {
            if (ex.getRequestHeaders().containsKey("Authorization")) {
                respond(ex, "cdn", 400, -1); // presigned URL plus a second credential
                return;
            }
            String sha = ex.getRequestURI().getPath().substring("/blobs/".length());
            String path = null;
            synchronized (files) {
                for (Map.Entry<String, byte[]> e : files.entrySet()) {
                    if (lfs.contains(e.getKey()) && sha256(e.getValue()).equals(sha)) path = e.getKey();
                }
            }
            if (path == null) {
                respond(ex, "cdn", 404, -1);
                return;
            }
            serveContent(ex, "cdn", path, files.get(path));
        }
    }

    /** Serves {@code content} with Range support and the one-shot faults. */
    private void serveContent(HttpExchange ex, String server, String path, byte[] content) throws IOException {
        byte[] body = content;
        if (corrupted.contains(path)) {
            body = content.clone();
            body[body.length / 2] ^= 0x5a;
        }
        long start = 0;
        String range = ex.getRequestHeaders().getFirst("Range");
        int status = 200;
        if (range != null && !ignoreRange) {
            Matcher m = Pattern.compile("bytes=(\\d+)-").matcher(range);
            if (!m.matches()) {
                respond(ex, server, 400, -1);
                return;
            }
            start = Long.parseLong(m.group(1));
            if (start >= body.length) {
                ex.getResponseHeaders().set("Content-Range", "bytes */" + body.length);
                respond(ex, server, 416, -1);
                return;
            }
            status = 206;
            ex.getResponseHeaders().set("Content-Range",
                    "bytes " + start + "-" + (body.length - 1) + "/" + body.length);
        }
        long length = body.length - start;
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.getResponseHeaders().set("Content-Length", Long.toString(length));
            respond(ex, server, status, -1);
            return;
        }
        respond(ex, server, status, length);
        OutputStream out = ex.getResponseBody();
        boolean faulty = path.equals(faultPath);
        long drop = faulty ? dropAfterBytes : -1;
        long stall = faulty ? stallAfterBytes : -1;
        if (drop >= 0) {
            dropAfterBytes = -1;
            out.write(body, (int) start, (int) Math.min(drop, length));
            out.flush();
            // Closing with bytes still owed makes the server cut the connection: the client sees a short body.
            return;
        }
        if (stall >= 0) {
            stallAfterBytes = -1;
            out.write(body, (int) start, (int) Math.min(stall, length));
            out.flush();
            sleep(stallMillis);
            out.write(body, (int) (start + Math.min(stall, length)), (int) (length - Math.min(stall, length)));
            return;
        }
        out.write(body, (int) start, (int) length);
    }

    private void respond(HttpExchange ex, String server, int status, long length) throws IOException {
        requests.add(new Request(server, ex.getRequestMethod(), ex.getRequestURI().getRawPath(),
                ex.getRequestHeaders().getFirst("Range"), ex.getRequestHeaders().getFirst("Authorization"), status));
        ex.sendResponseHeaders(status, ex.getRequestMethod().equals("HEAD") ? -1 : length == 0 ? -1 : length);
    }

    private static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        hub.stop(0);
        cdn.stop(0);
        executor.shutdownNow();
    }
}
