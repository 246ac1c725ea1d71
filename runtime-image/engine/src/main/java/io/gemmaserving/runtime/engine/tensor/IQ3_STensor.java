package io.gemmaserving.runtime.engine.tensor;

import java.lang.foreign.MemorySegment;

/**
 * GGML_TYPE_IQ3_S, super-block of 256 in 110 bytes: {@code fp16 d; uint8 qs[64]; uint8 qh[8]; uint8 signs[32];
 * uint8 scales[4]}. Element {@code e}: grid index {@code g = e / 4} is {@code qs[g]} with bit {@code g} of qh
 * (bit {@code g % 8} of {@code qh[g / 8]}) as ninth bit; the value is component {@code e % 4} of the 512-entry
 * grid, negated when bit {@code e} of signs is set; scale {@code s = e / 32} is nibble {@code s} of scales;
 * {@code y = d * (1 + 2 * scale) * grid * sign}. The vector dot dequantizes a row into a buffer first.
 */
public final class IQ3_STensor extends AbstractTensor {

    /**
     * ggml's {@code iq3s_grid} (ggml-common.h): 512 entries of four values in {1, 3, ..., 15}, packed as in gguf-py:
     * two hex digits per byte, two values per byte (value = 2 * (3-bit field) + 1, low nibble first).
     */
    private static final String GRID_HEX = ""
            + "0000010002000500070010001100120014001600200021002500330040004200"
            + "4500470051005300600062007100740077000001010102010401100111011501"
            + "2001230127013101350144016101650172010002010205020702100213021602"
            + "2102250230023402420245024702510253027002730203031103150320032203"
            + "3103330336034403500352036703710375030004130417042104240432044004"
            + "4304510470040205040520052205260533054105450547056605730506061106"
            + "1306310652067106000702070407200722072607330750075407001001100210"
            + "0410101011101310151017102010221031103410361054105610611072100011"
            + "0111031106111011141121113011331141115011521170117611001212121512"
            + "1712201224123212401243125512601272120113041307131013131321132713"
            + "3013341341136213701303140514121414143114331442144614501454140115"
            + "1015131521153015321551152016241627164416461601170317101712172117"
            + "3517411762177017002001200320052007201020122014201620212023202720"
            + "3020322041204320452050205220672070207320752000210221102113211721"
            + "2221252131213421422151210122042207222122232230223722412253225722"
            + "7122742200230223052311232223242331233323422350236623012407242024"
            + "2324322435244124722475240425112522253725402553257025002602260726"
            + "2126552661260527112726273027432750270230113013301530173022303130"
            + "3330353042304430473051306330713001310331053114312131233140316031"
            + "7231763100321232203232323432503201331033143321332333273330334133"
            + "4333473355337333033411341634223431345234603464340135103512352535"
            + "3235443556357335163641360137033720372237353700400440124020402440"
            + "2740324041405040704002410741114113412241304135414341514155410142"
            + "0342104215422142334240425742624270420443114313432043224331433543"
            + "0044024424443744404471440545074521456245134634466046104715473047"
            + "4347514702501050145022504050445047505250665074500151035105511251"
            + "2151325172510052115223523052365253520253075310532753445351536553"
            + "7353015404542054325446541255265551555355425602570457225711601360"
            + "1560316033606060006120612761646112623462426255626262706200631463"
            + "2163406325644364626400650365346560650566406611671367007004700770"
            + "2070227036704070547062700271117124714371457101720472107216722172"
            + "3072517202733273357353730174057413742074507422754275027631760077";
    /** GRID[4 * k + i]: component i of grid entry k. */
    private static final byte[] GRID = new byte[512 * 4];

    static {
        for (int byteIndex = 0; byteIndex < 1024; byteIndex++) {
            int b = Integer.parseInt(GRID_HEX.substring(2 * byteIndex, 2 * byteIndex + 2), 16);
            GRID[2 * byteIndex] = (byte) (2 * (b & 7) + 1);
            GRID[2 * byteIndex + 1] = (byte) (2 * ((b >>> 4) & 7) + 1);
        }
    }

    public IQ3_STensor(String name, long rows, int cols, MemorySegment data) {
        super(name, TensorType.IQ3_S, rows, cols, data);
    }

    /** Per grid index (four elements): one lookup, one ninth bit, four sign bits. */
    @Override
    protected void dequantizeBlock(long bo, float[] out, int off) {
        float d = Simd.f16(data, bo);
        int scales = Simd.i32(data, bo + 106);
        long qh = Simd.i64(data, bo + 66);
        for (int s = 0; s < 8; s++) {
            float db = d * (1 + 2 * ((scales >>> (4 * s)) & 0x0F));
            for (int g = s * 8; g < s * 8 + 8; g++) {
                int idx = Simd.u8(data, bo + 2 + g) | (int) (((qh >>> g) & 1) << 8);
                int signs = Simd.u8(data, bo + 74 + g / 2) >>> (4 * (g & 1)); // bits of elements 4g .. 4g+3
                for (int i = 0; i < 4; i++) {
                    float v = db * GRID[4 * idx + i];
                    out[off + 4 * g + i] = ((signs >>> i) & 1) != 0 ? v * -1f : v;
                }
            }
        }
    }
}
