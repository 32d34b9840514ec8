namespace GruOnnx.Models;

/// <summary>Weights of one direction of one GRU layer, gates in ONNX order z, r, h.</summary>
/// <param name="W">Input weights, row-major [3·H, layer input size].</param>
/// <param name="R">Recurrent weights, row-major [3·H, H].</param>
/// <param name="Wb">Input biases [3·H].</param>
/// <param name="Rb">Recurrent biases [3·H].</param>
public sealed record GruDirectionWeights(float[] W, float[] R, float[] Wb, float[] Rb);

/// <summary>Weights of one GRU layer: one entry per direction (forward first, then reverse).</summary>
public sealed record GruLayerWeights(int InputSize, IReadOnlyList<GruDirectionWeights> Directions);

/// <summary>A dense head on the final hidden state: <c>output = hidden · Weight + Bias</c>.</summary>
/// <param name="Weight">Row-major [directions × H, outputs].</param>
/// <param name="Bias">[outputs].</param>
public sealed record DenseHeadWeights(float[] Weight, float[] Bias);

/// <summary>A GRU model: its spec and every weight, ready to be written as ONNX or evaluated by a reference.</summary>
public sealed record GruModel(GruModelSpec Spec, IReadOnlyList<GruLayerWeights> Layers, DenseHeadWeights? Head)
{
    /// <summary>Draws the weights from a generator seeded with <see cref="GruModelSpec.Seed"/>, uniform in ±1/√H
    /// (the usual GRU initialisation), so equal specs give equal models.</summary>
    public static GruModel Create(GruModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        var random = new Random(spec.Seed);
        var h = spec.HiddenSize;
        var bound = 1.0 / Math.Sqrt(h);

        var layers = new List<GruLayerWeights>(spec.Layers);
        for (var layer = 0; layer < spec.Layers; layer++)
        {
            var inputSize = layer == 0 ? spec.InputSize : spec.LayerOutputSize;
            var directions = new List<GruDirectionWeights>(spec.DirectionCount);
            for (var d = 0; d < spec.DirectionCount; d++)
            {
                directions.Add(new GruDirectionWeights(
                    Uniform(random, 3 * h * inputSize, bound),
                    Uniform(random, 3 * h * h, bound),
                    Uniform(random, 3 * h, bound),
                    Uniform(random, 3 * h, bound)));
            }

            layers.Add(new GruLayerWeights(inputSize, directions));
        }

        DenseHeadWeights? head = null;
        if (spec.DenseOutputs > 0)
        {
            var fanIn = spec.LayerOutputSize;
            var headBound = 1.0 / Math.Sqrt(fanIn);
            head = new DenseHeadWeights(
                Uniform(random, fanIn * spec.DenseOutputs, headBound),
                Uniform(random, spec.DenseOutputs, headBound));
        }

        return new GruModel(spec, layers, head);
    }

    private static float[] Uniform(Random random, int count, double bound)
    {
        var values = new float[count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)((random.NextDouble() * 2 - 1) * bound);
        }

        return values;
    }
}
