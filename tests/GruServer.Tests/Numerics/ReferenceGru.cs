using GruOnnx.Models;

namespace GruServer.Tests.Numerics;

/// <summary>A straightforward GRU written from the ONNX operator definition, in double precision, used to
/// check what ONNX Runtime computes for the models GruOnnx writes. Deliberately loop-by-loop and unoptimised.</summary>
/// <remarks>
/// z = σ(x·Wzᵀ + h·Rzᵀ + Wbz + Rbz), r = σ(x·Wrᵀ + h·Rrᵀ + Wbr + Rbr)
/// linear_before_reset=0: ĥ = tanh(x·Whᵀ + (r⊙h)·Rhᵀ + Rbh + Wbh)
/// linear_before_reset=1: ĥ = tanh(x·Whᵀ + r⊙(h·Rhᵀ + Rbh) + Wbh)
/// h' = (1−z)⊙ĥ + z⊙h. Steps at or beyond a sequence's length are zero in Y and do not touch the state;
/// the reverse direction starts at each sequence's own last valid step.
/// </remarks>
internal static class ReferenceGru
{
    /// <summary>Runs the model on batch-major <paramref name="x"/> [B,T,I]; returns the graph's two outputs.</summary>
    public static (double[] Output, double[] Hidden) Run(GruModel model, float[] x, int batch, int steps, int[]? lengths)
    {
        var spec = model.Spec;
        var h = spec.HiddenSize;
        var directions = spec.DirectionCount;
        var layerInput = x.Select(v => (double)v).ToArray();
        var inputSize = spec.InputSize;
        double[] sequence = [];
        var finalHidden = new double[batch * directions * h];

        foreach (var layer in model.Layers)
        {
            sequence = new double[batch * steps * directions * h];
            for (var d = 0; d < directions; d++)
            {
                var weights = layer.Directions[d];
                var reverse = spec.Direction == GruDirection.Reverse || d == 1;
                for (var b = 0; b < batch; b++)
                {
                    var length = lengths?[b] ?? steps;
                    var state = new double[h];
                    for (var i = 0; i < length; i++)
                    {
                        var t = reverse ? length - 1 - i : i;
                        var xt = layerInput.AsSpan((b * steps + t) * inputSize, inputSize).ToArray();
                        state = Step(weights, xt, state, h, spec.LinearBeforeReset);
                        Array.Copy(state, 0, sequence, ((b * steps + t) * directions + d) * h, h);
                    }

                    Array.Copy(state, 0, finalHidden, (b * directions + d) * h, h);
                }
            }

            layerInput = sequence;
            inputSize = directions * h;
        }

        if (model.Head is not { } head)
        {
            return (sequence, finalHidden);
        }

        var outputs = spec.DenseOutputs;
        var width = directions * h;
        var dense = new double[batch * outputs];
        for (var b = 0; b < batch; b++)
        {
            for (var o = 0; o < outputs; o++)
            {
                double sum = head.Bias[o];
                for (var k = 0; k < width; k++)
                {
                    sum += finalHidden[b * width + k] * head.Weight[k * outputs + o];
                }

                dense[b * outputs + o] = sum;
            }
        }

        return (dense, finalHidden);
    }

    private static double[] Step(GruDirectionWeights w, double[] x, double[] state, int h, bool linearBeforeReset)
    {
        var inputSize = x.Length;
        double InputLinear(int row)
        {
            double sum = w.Wb[row];
            for (var k = 0; k < inputSize; k++)
            {
                sum += w.W[row * inputSize + k] * x[k];
            }

            return sum;
        }

        double Recurrent(int row, Func<int, double> hidden)
        {
            double sum = 0;
            for (var k = 0; k < h; k++)
            {
                sum += w.R[row * h + k] * hidden(k);
            }

            return sum;
        }

        var z = new double[h];
        var r = new double[h];
        for (var j = 0; j < h; j++)
        {
            z[j] = Sigmoid(InputLinear(j) + Recurrent(j, k => state[k]) + w.Rb[j]);
            r[j] = Sigmoid(InputLinear(h + j) + Recurrent(h + j, k => state[k]) + w.Rb[h + j]);
        }

        var next = new double[h];
        for (var j = 0; j < h; j++)
        {
            var row = 2 * h + j;
            var candidate = linearBeforeReset
                ? Math.Tanh(InputLinear(row) + r[j] * (Recurrent(row, k => state[k]) + w.Rb[row]))
                : Math.Tanh(InputLinear(row) + Recurrent(row, k => r[k] * state[k]) + w.Rb[row]);
            next[j] = (1 - z[j]) * candidate + z[j] * state[j];
        }

        return next;
    }

    private static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));
}
