namespace GruOnnx.Models;

/// <summary>What a written model is, beside the reference its spec and seed draw: the failures canary analysis must
/// catch by output divergence alone, since they cost no speed and raise no error.</summary>
public enum GruModelVariant
{
    /// <summary>The weights as drawn.</summary>
    Reference,

    /// <summary>Each GRU's update (z) and reset (r) gate blocks swapped in W, R and both biases: a conversion that read
    /// the gates in another framework's order. Same shapes, same speed, different numbers.</summary>
    SwappedGates,

    /// <summary>Every weight tensor rounded to 255 symmetric levels (int8 without zero-point: scale = max|w| / 127):
    /// quantization without calibration, a small and bounded change of the numbers.</summary>
    Rounded8Bit,
}

/// <summary>Derives a <see cref="GruModelVariant"/> from a reference model.</summary>
public static class GruModelVariants
{
    /// <summary>Levels on each side of zero an 8-bit symmetric quantizer keeps.</summary>
    public const int Int8Levels = 127;

    /// <summary>The model as <paramref name="variant"/> makes it.</summary>
    public static GruModel Apply(GruModel model, GruModelVariant variant)
    {
        ArgumentNullException.ThrowIfNull(model);
        return variant switch
        {
            GruModelVariant.Reference => model,
            GruModelVariant.SwappedGates => Map(model, d => new GruDirectionWeights(
                SwapZr(d.W, model.Spec.HiddenSize), SwapZr(d.R, model.Spec.HiddenSize), SwapZr(d.Wb, model.Spec.HiddenSize), SwapZr(d.Rb, model.Spec.HiddenSize)), head => head),
            GruModelVariant.Rounded8Bit => Map(model, d => new GruDirectionWeights(Round8Bit(d.W), Round8Bit(d.R), Round8Bit(d.Wb), Round8Bit(d.Rb)),
                head => new DenseHeadWeights(Round8Bit(head.Weight), Round8Bit(head.Bias))),
            _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "unknown variant"),
        };
    }

    /// <summary>Rounds each value to the nearest multiple of max|w| / 127 (all zeros stay zeros).</summary>
    public static float[] Round8Bit(float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var max = values.Length == 0 ? 0 : values.Max(Math.Abs);
        if (max == 0)
        {
            return [.. values];
        }

        var scale = max / Int8Levels;
        return [.. values.Select(v => (float)(Math.Round(v / scale, MidpointRounding.ToEven) * scale))];
    }

    /// <summary>Swaps the first two gate blocks (ONNX order z, r, h; each <paramref name="hidden"/> rows) of a
    /// row-major [3·H, ...] tensor.</summary>
    public static float[] SwapZr(float[] gates, int hidden)
    {
        ArgumentNullException.ThrowIfNull(gates);
        var block = gates.Length / 3;
        if (block * 3 != gates.Length || block % hidden != 0)
        {
            throw new ArgumentException($"a gate tensor of {gates.Length} values is not three blocks of {hidden} rows.", nameof(gates));
        }

        var swapped = (float[])gates.Clone();
        gates.AsSpan(0, block).CopyTo(swapped.AsSpan(block, block));
        gates.AsSpan(block, block).CopyTo(swapped.AsSpan(0, block));
        return swapped;
    }

    private static GruModel Map(GruModel model, Func<GruDirectionWeights, GruDirectionWeights> direction, Func<DenseHeadWeights, DenseHeadWeights> head) =>
        model with
        {
            Layers = [.. model.Layers.Select(l => l with { Directions = [.. l.Directions.Select(direction)] })],
            Head = model.Head is null ? null : head(model.Head),
        };
}
