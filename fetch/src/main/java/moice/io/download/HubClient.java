package moice.io.download;

import moice.MoiceException;
import moice.io.Json;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The few Hugging Face Hub endpoints a pull needs, over {@link HttpClient}.
 * <ul>
 *   <li>{@code GET {endpoint}/api/models/{repo}/revision/{revision}}: the commit sha and the file list
 *       ({@code sha}, {@code siblings[].rfilename});</li>
 *   <li>{@code HEAD {endpoint}/{repo}/resolve/{commit}/{path}}: size and checksum; an LFS file answers with a
 *       redirect to its CDN carrying {@code X-Linked-Size} and {@code X-Linked-Etag} (its sha256), a plain file
 *       answers 200 with {@code Content-Length} and an {@code ETag} that is its git blob sha1;</li>
 *   <li>{@code GET} of the same resolve URL, following redirects, for the bytes.</li>
 * </ul>
 * The token goes only to the Hub's own host, never to the CDN a redirect points to (presigned CDN URLs reject a
 * second credential, and the token must not leak). Redirects are followed here, not by the client, for that reason.
 */
public final class HubClient implements AutoCloseable {
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";
    private static final Duration DEFAULT_STALL_TIMEOUT = Duration.ofSeconds(60);
    private static final int MAX_REDIRECTS = 10;

    /** A revision resolved to its commit, with every file path in the repository. */
    public record RepoInfo(String commit, List<String> files) {
    }

    /**
     * What the Hub says about one file at one commit.
     *
     * @param etag sha256 for an LFS file, git blob sha1 for a plain one (lower case, no quotes); null if absent
     * @param lfs  whether the file is stored with LFS (the Hub sent {@code X-Linked-*} headers)
     */
    public record FileMeta(String path, long size, String etag, boolean lfs) {
    }

    private final URI endpoint;
    private final String token;
    private final Duration stallTimeout;
    private final HttpClient http;

    /**
     * @param endpoint     Hub base URL, e.g. {@code https://huggingface.co}
     * @param token        bearer token, or null for anonymous access
     * @param stallTimeout how long a request may go without receiving data before it counts as failed
     */
    public HubClient(URI endpoint, String token, Duration stallTimeout) {
        String base = endpoint.toString();
        while (base.endsWith("/")) base = base.substring(0, base.length() - 1);
        this.endpoint = URI.create(base);
        this.token = token == null || token.isBlank() ? null : token.strip();
        this.stallTimeout = stallTimeout;
        this.http = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(30))
                .version(HttpClient.Version.HTTP_1_1)
                .build();
    }

    /**
     * A client configured as huggingface_hub does: endpoint from {@code HF_ENDPOINT} (default
     * {@value #DEFAULT_ENDPOINT}); token from {@code HF_TOKEN}, else the file {@code HF_TOKEN_PATH}, else
     * {@code $HF_HOME/token} (HF_HOME defaults to {@code ~/.cache/huggingface}).
     *
     * @param endpointOverride an endpoint that wins over the environment, or null
     */
    public static HubClient fromEnvironment(String endpointOverride) {
        String endpoint = endpointOverride != null ? endpointOverride : System.getenv("HF_ENDPOINT");
        if (endpoint == null || endpoint.isBlank()) endpoint = DEFAULT_ENDPOINT;
        URI uri;
        try {
            uri = URI.create(endpoint.strip());
        } catch (IllegalArgumentException e) {
            throw new MoiceException("Hub endpoint '" + endpoint + "': not a URL");
        }
        if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme()) || uri.getHost() == null) {
            throw new MoiceException("Hub endpoint '" + endpoint + "': expected an http(s) URL such as "
                    + DEFAULT_ENDPOINT);
        }
        return new HubClient(uri, tokenFromEnvironment(System.getenv(), System.getProperty("user.home")),
                DEFAULT_STALL_TIMEOUT);
    }

    static String tokenFromEnvironment(Map<String, String> env, String userHome) {
        String token = env.get("HF_TOKEN");
        if (token != null && !token.isBlank()) return token.strip();
        String tokenPath = env.get("HF_TOKEN_PATH");
        if (tokenPath == null || tokenPath.isBlank()) {
            String hfHome = env.get("HF_HOME");
            Path home = hfHome != null && !hfHome.isBlank() ? Path.of(hfHome)
                    : Path.of(userHome, ".cache", "huggingface");
            tokenPath = home.resolve("token").toString();
        }
        try {
            Path file = Path.of(tokenPath);
            if (Files.isRegularFile(file)) {
                String t = Files.readString(file, StandardCharsets.UTF_8).strip();
                if (!t.isEmpty()) return t;
            }
        } catch (IOException | RuntimeException e) {
            // an unreadable token file means anonymous access, as in huggingface_hub
        }
        return null;
    }

    public URI endpoint() {
        return endpoint;
    }

    public boolean hasToken() {
        return token != null;
    }

    /** Resolves {@code revision} (branch, tag or commit) and lists the repository's files. */
    public RepoInfo repoInfo(RepoId repo, String revision) {
        URI url = URI.create(endpoint + "/api/models/" + repo + "/revision/" + encodeSegment(revision));
        HttpResponse<String> r;
        try {
            r = exchange("GET", url, Map.of(), info -> info.statusCode() == 200
                    ? HttpResponse.BodySubscribers.ofString(StandardCharsets.UTF_8)
                    : HttpResponse.BodySubscribers.replacing(null), true, new StallWatch(stallTimeout));
        } catch (IOException e) {
            throw networkError(url, e);
        }
        if (r.statusCode() != 200) throw httpError(r, repo, revision, null);
        String what = "Hub answer for " + repo + " revision " + revision + " (" + url + ")";
        Map<String, Object> root = Json.object(Json.parse(r.body(), what), what);
        String commit = Json.string(root.get("sha"), what + ": sha");
        if (!Checksums.isHex(commit, 40)) throw new MoiceException(what + ": sha '" + commit + "' is not a commit id");
        List<String> files = new ArrayList<>();
        for (Object sibling : Json.array(root.get("siblings"), what + ": siblings")) {
            files.add(Json.string(Json.object(sibling, what + ": siblings[]").get("rfilename"),
                    what + ": siblings[].rfilename"));
        }
        return new RepoInfo(Checksums.lower(commit), files);
    }

    /** Size and checksum of {@code path} at {@code commit}, from a HEAD request that stops before the CDN. */
    public FileMeta fileMeta(RepoId repo, String commit, String path) {
        URI url = resolveUrl(repo, commit, path);
        HttpResponse<Void> r;
        try {
            r = exchange("HEAD", url, Map.of("Accept-Encoding", "identity"),
                    info -> HttpResponse.BodySubscribers.replacing(null), false, new StallWatch(stallTimeout));
        } catch (IOException e) {
            throw networkError(url, e);
        }
        int status = r.statusCode();
        if (status >= 400 || status < 200) throw httpError(r, repo, commit, path);
        HttpHeaders h = r.headers();
        Optional<String> linkedEtag = h.firstValue("X-Linked-Etag");
        Optional<String> linkedSize = h.firstValue("X-Linked-Size");
        boolean lfs = linkedEtag.isPresent() || linkedSize.isPresent();
        String sizeText = linkedSize.or(() -> status < 300 ? h.firstValue("Content-Length") : Optional.empty())
                .orElseThrow(() -> new MoiceException(repo + "/" + path + ": the Hub sent no file size (HEAD "
                        + url + " answered " + status + " without X-Linked-Size or Content-Length)"));
        long size;
        try {
            size = Long.parseLong(sizeText.strip());
        } catch (NumberFormatException e) {
            size = -1;
        }
        if (size < 0) throw new MoiceException(repo + "/" + path + ": bad file size '" + sizeText + "' from " + url);
        String etag = normalizeEtag(linkedEtag.or(() -> h.firstValue("ETag")).orElse(null));
        return new FileMeta(path, size, etag, lfs);
    }

    /** {@code {endpoint}/{repo}/resolve/{revision}/{path}}, as huggingface_hub's {@code hf_hub_url} builds it. */
    public URI resolveUrl(RepoId repo, String revision, String path) {
        StringBuilder sb = new StringBuilder(endpoint + "/" + repo + "/resolve/" + encodeSegment(revision));
        for (String segment : path.split("/", -1)) sb.append('/').append(encodeSegment(segment));
        return URI.create(sb.toString());
    }

    /** GET following all redirects (the CDN); see {@link #exchange}. */
    <T> HttpResponse<T> get(URI url, Map<String, String> headers, HttpResponse.BodyHandler<T> handler,
                            StallWatch watch) throws IOException {
        return exchange("GET", url, headers, handler, true, watch);
    }

    /**
     * Sends one request, following redirects itself: all of them when {@code followAbsolute}, else only relative
     * ones (a renamed repository), so a HEAD stops at the CDN redirect whose headers carry the LFS metadata. The
     * handler sees only the final response. Waits while {@code watch} says data keeps coming.
     */
    private <T> HttpResponse<T> exchange(String method, URI url, Map<String, String> headers,
                                         HttpResponse.BodyHandler<T> handler, boolean followAbsolute,
                                         StallWatch watch) throws IOException {
        URI current = url;
        for (int hop = 0; ; hop++) {
            HttpRequest.Builder b = HttpRequest.newBuilder(current)
                    .method(method, HttpRequest.BodyPublishers.noBody())
                    .timeout(stallTimeout)
                    .header("User-Agent", "moice/0.1");
            headers.forEach(b::header);
            if (token != null && sameOrigin(current, endpoint)) b.header("Authorization", "Bearer " + token);
            HttpResponse.BodyHandler<T> hopHandler = info -> followable(info.statusCode(), info.headers(),
                    followAbsolute) ? HttpResponse.BodySubscribers.replacing(null) : handler.apply(info);
            watch.touch();
            HttpResponse<T> r = await(http.sendAsync(b.build(), hopHandler), watch);
            if (!followable(r.statusCode(), r.headers(), followAbsolute)) return r;
            if (hop == MAX_REDIRECTS) throw new IOException("more than " + MAX_REDIRECTS + " redirects");
            current = current.resolve(r.headers().firstValue("Location").orElseThrow());
        }
    }

    private static boolean followable(int status, HttpHeaders headers, boolean followAbsolute) {
        if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) return false;
        Optional<String> location = headers.firstValue("Location");
        if (location.isEmpty()) return false;
        if (followAbsolute) return true;
        try {
            return !URI.create(location.get()).isAbsolute();
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static <T> T await(CompletableFuture<T> future, StallWatch watch) throws IOException {
        while (true) {
            try {
                return future.get(200, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                if (watch.stalled()) {
                    future.cancel(true);
                    throw new HttpTimeoutException("no data for " + watch.limitSeconds() + " s");
                }
            } catch (InterruptedException e) {
                future.cancel(true);
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted");
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                while ((cause instanceof CompletionException || cause instanceof UncheckedIOException)
                        && cause.getCause() != null) {
                    cause = cause.getCause();
                }
                if (cause instanceof IOException io) throw io;
                if (cause instanceof RuntimeException re) throw re;
                throw new IOException(cause);
            }
        }
    }

    /** The one-line error for a failed Hub answer; names the repository, what is wrong and the URL. */
    MoiceException httpError(HttpResponse<?> r, RepoId repo, String revision, String path) {
        int status = r.statusCode();
        String code = r.headers().firstValue("X-Error-Code").orElse("");
        String serverMessage = r.headers().firstValue("X-Error-Message").map(m -> " (" + m + ")").orElse("");
        String where = " (HTTP " + status + " from " + r.request().uri() + ")" + serverMessage;
        String gated = repo + " is a gated repository" + where + ": accept its terms on " + endpoint + "/" + repo
                + (token == null ? ", then set HF_TOKEN to a token of that account"
                : " with the account of HF_TOKEN");
        return new MoiceException(switch (status) {
            case 401 -> code.equals("GatedRepo") ? gated
                    : token == null ? repo + ": access denied" + where + ": the repository does not exist, or it is"
                    + " private or gated; check the name, or set HF_TOKEN to a token that can read it"
                    : repo + ": HF_TOKEN was refused" + where + ": the token is invalid, or the repository does not"
                    + " exist or is not visible to it";
            case 403 -> code.equals("GatedRepo") ? gated
                    : repo + ": access forbidden" + where + ": set HF_TOKEN to a token with read access to it";
            case 404 -> switch (code) {
                case "RevisionNotFound" -> repo + ": revision '" + revision + "' not found" + where;
                case "EntryNotFound" -> repo + ": file '" + path + "' not found at revision " + revision + where;
                case "RepoNotFound" -> repo + ": repository not found" + where;
                default -> path == null
                        ? repo + ": repository or revision '" + revision + "' not found" + where
                        : repo + ": file '" + path + "' not found at revision " + revision + where;
            };
            case 429 -> repo + ": rate limited by the Hub" + where + "; wait a minute and rerun"
                    + (token == null ? ", or set HF_TOKEN" : "");
            default -> repo + ": unexpected answer" + where;
        });
    }

    static MoiceException networkError(URI url, IOException e) {
        return new MoiceException("network error for " + url + ": " + describe(e), e);
    }

    /** The exception and its causes in one line; HttpClient's ConnectException often has its reason in a cause. */
    static String describe(IOException e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null && sb.length() < 300; t = t.getCause()) {
            if (!sb.isEmpty()) sb.append(": ");
            sb.append(t.getClass().getSimpleName());
            if (t.getMessage() != null && !t.getMessage().isBlank()) sb.append(" (").append(t.getMessage()).append(')');
            if (t.getCause() == t) break;
        }
        return sb.toString();
    }

    /** Strips quotes and a weak-validator prefix; lower case. */
    static String normalizeEtag(String etag) {
        if (etag == null) return null;
        String e = etag.strip();
        if (e.startsWith("W/")) e = e.substring(2);
        if (e.length() >= 2 && e.startsWith("\"") && e.endsWith("\"")) e = e.substring(1, e.length() - 1);
        return e.isEmpty() ? null : Checksums.lower(e);
    }

    /** Percent-encodes everything but RFC 3986 unreserved characters (so '/' in a revision becomes %2F). */
    static String encodeSegment(String s) {
        StringBuilder sb = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
                    || c == '-' || c == '.' || c == '_' || c == '~') {
                sb.append((char) c);
            } else {
                sb.append('%').append(String.format(Locale.ROOT, "%02X", c));
            }
        }
        return sb.toString();
    }

    private static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost().equalsIgnoreCase(b.getHost())
                && port(a) == port(b);
    }

    private static int port(URI u) {
        return u.getPort() != -1 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    @Override
    public void close() {
        // Nothing is in flight when a pull ends; abort rather than wait in case a cancelled exchange lingers.
        http.shutdownNow();
    }

    /** Tracks the last moment data arrived; a request with none for the limit is abandoned. */
    static final class StallWatch {
        private final long limitNanos;
        private volatile long lastNanos = System.nanoTime();

        StallWatch(Duration limit) {
            this.limitNanos = limit.toNanos();
        }

        void touch() {
            lastNanos = System.nanoTime();
        }

        boolean stalled() {
            return System.nanoTime() - lastNanos > limitNanos;
        }

        long limitSeconds() {
            return Math.max(1, limitNanos / 1_000_000_000L);
        }
    }
}
