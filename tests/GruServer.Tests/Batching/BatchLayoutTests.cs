using System.Buffers;
using GruServer.Batching;
using GruServer.Inference;

namespace GruServer.Tests.Batching;

/// <summary>Stacking requests along the model's batch axis and cutting outputs back, for batch-major and time-major
/// tensors, with rented buffers that may hold a previous batch's values.</summary>
public sealed class BatchLayoutTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MergeStacksOnTheBatchAxisAndPadsTimeWithZerosEvenInARentedBuffer(bool timeMajor)
    {
        var layout = BatchLayout.For(Signature(timeMajor));
        // Requests of 1 sequence x 3 steps and 2 sequences x 1 step, two features, values naming their position.
        var a = Sequences(timeMajor, rows: 1, time: 3, first: 100);
        var b = Sequences(timeMajor, rows: 2, time: 1, first: 200);
        // A pooled buffer as the last batch left it: not zeros.
        var dirty = ArrayPool<float>.Shared.Rent(3 * 3 * 2);
        Array.Fill(dirty, float.NaN);
        ArrayPool<float>.Shared.Return(dirty);

        var merged = layout.Merge([[a, Lengths(3)], [b, Lengths(1, 1)]], pooled: true);

        var x = merged.Single(t => t.Name == "x");
        Assert.Equal([3L, 3, 2], x.Shape); // 3 sequences, padded to 3 steps
        var data = (float[])x.Data;
        float At(int row, int step, int feature) => data[timeMajor ? ((step * 3) + row) * 2 + feature : ((row * 3) + step) * 2 + feature];
        Assert.Equal(100 + 1 + 1, At(0, 1, 1)); // request a, step 1, feature 1
        Assert.Equal(200 + 2 + 0, At(2, 0, 0)); // request b's second sequence
        Assert.Equal(0f, At(1, 2, 0)); // padding after b's first sequence
        Assert.Equal(0f, At(2, 1, 1));
        Assert.Equal([3, 1, 1], ((int[])merged.Single(t => t.Name == "lengths").Data)[..3]); // a rented buffer may be longer
        foreach (var tensor in merged)
        {
            PooledTensors.Return(tensor.Data);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SplitCutsEachRequestsRowsAndTimeBack(bool timeMajor)
    {
        var layout = BatchLayout.For(Signature(timeMajor));
        var a = Sequences(timeMajor, rows: 1, time: 3, first: 100);
        var b = Sequences(timeMajor, rows: 2, time: 1, first: 200);
        var merged = layout.Merge([[a, Lengths(3)], [b, Lengths(1, 1)]]);
        var output = merged.Single(t => t.Name == "x") with { Name = "y" };

        var parts = layout.Split([output], [(1, 3), (2, 1)]);

        Assert.Equal(a.Shape, parts[0][0].Shape);
        Assert.Equal((float[])a.Data, (float[])parts[0][0].Data);
        Assert.Equal(b.Shape, parts[1][0].Shape);
        Assert.Equal((float[])b.Data, (float[])parts[1][0].Data);
    }

    private static ModelSignature Signature(bool timeMajor)
    {
        var (batch, time) = timeMajor ? (1, 0) : (0, 1);
        return new ModelSignature(
            [new TensorSpec("x", TensorDataType.FP32, [-1, -1, 2], ["", "", ""], batch, time), new TensorSpec("lengths", TensorDataType.INT32, [-1], [""], 0)],
            [new TensorSpec("y", TensorDataType.FP32, [-1, -1, 2], ["", "", ""], batch, time)],
            SequenceLengths: "lengths",
            OutputsFollowBatch: true,
            OutputsFollowTime: true);
    }

    /// <summary>Sequences whose value at (row, step, feature) is first + 2·row + step + feature.</summary>
    private static NamedTensor Sequences(bool timeMajor, int rows, int time, int first)
    {
        var data = new float[rows * time * 2];
        for (var r = 0; r < rows; r++)
        {
            for (var t = 0; t < time; t++)
            {
                for (var f = 0; f < 2; f++)
                {
                    data[timeMajor ? ((t * rows) + r) * 2 + f : ((r * time) + t) * 2 + f] = first + (r * 2) + t + f;
                }
            }
        }

        return new NamedTensor("x", TensorDataType.FP32, timeMajor ? [time, rows, 2] : [rows, time, 2], data);
    }

    private static NamedTensor Lengths(params int[] lengths) => new("lengths", TensorDataType.INT32, [lengths.Length], lengths);
}
