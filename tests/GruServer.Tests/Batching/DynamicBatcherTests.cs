using System.Diagnostics.Metrics;
using GruOnnx.Models;
using GruOnnx.Writing;
using GruServer.Backends;
using GruServer.Batching;
using GruServer.Faults;
using GruServer.Hosting;
using GruServer.Inference;
using GruServer.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace GruServer.Tests.Batching;

/// <summary>The dynamic batcher against real ONNX Runtime sessions: batched results equal each request run alone,
/// batches form only where that holds, and the queue is bounded, cancellable and within --max-batch-size.</summary>
public sealed class DynamicBatcherTests
{
    private const double Tolerance = 1e-5;

    /// <summary>Requests as (rows, time steps, valid steps of each row or null for all).</summary>
    public static TheoryData<string, GruModelSpec, (int Rows, int Time, int[]? Lengths)[]> MixedLengths => new()
    {
        { "masked, dense head", new GruModelSpec(3, 6, SequenceLengths: true, DenseOutputs: 2, Seed: 31), [(1, 3, null), (2, 7, [7, 2]), (1, 1, null), (1, 5, [4])] },
        { "masked reverse, per-step output", new GruModelSpec(3, 5, Direction: GruDirection.Reverse, SequenceLengths: true, Seed: 32), [(1, 6, null), (1, 2, null), (2, 4, [1, 4])] },
        { "masked bidirectional stacked, per-step output", new GruModelSpec(2, 4, Layers: 2, Direction: GruDirection.Bidirectional, LinearBeforeReset: true, SequenceLengths: true, Seed: 33), [(2, 5, [5, 3]), (1, 9, null), (1, 1, null)] },
        { "time-major masked, dense head", new GruModelSpec(3, 6, SequenceLengths: true, DenseOutputs: 2, Seed: 34, TimeMajor: true), [(1, 3, null), (2, 7, [7, 2]), (1, 1, null), (1, 5, [4])] },
        { "time-major masked bidirectional, per-step output", new GruModelSpec(2, 4, Layers: 2, Direction: GruDirection.Bidirectional, SequenceLengths: true, Seed: 35, TimeMajor: true), [(2, 5, [5, 3]), (1, 9, null), (1, 1, null)] },
    };

    [Theory]
    [MemberData(nameof(MixedLengths))]
    public async Task MixedLengthsShareOneBatchAndEqualRunningAlone(string variant, GruModelSpec spec, (int Rows, int Time, int[]? Lengths)[] requests)
    {
        using var backend = Load(spec);
        await using var batcher = Batcher(new() { MaxBatchSize = 32, MaxQueueDelay = TimeSpan.Zero });
        var blocker = batcher.RunAsync(backend, Request(spec, 1, 2, null, seed: 0), Outputs(backend), CancellationToken.None);
        await backend.EnteredAsync();

        var inputs = requests.Select((r, i) => Request(spec, r.Rows, r.Time, r.Lengths, seed: i + 1)).ToList();
        var pending = inputs.Select(i => batcher.RunAsync(backend, i, Outputs(backend), CancellationToken.None)).ToList();
        backend.Open();
        await blocker;
        var results = await Task.WhenAll(pending);

        Assert.Equal(2, backend.Runs.Count);
        Assert.Equal((requests.Sum(r => r.Rows), requests.Max(r => r.Time)), backend.Runs[1]);
        for (var i = 0; i < inputs.Count; i++)
        {
            AssertSame($"{variant}, request {i}", backend.Inner.Run(inputs[i], Outputs(backend), CancellationToken.None), results[i]);
        }
    }

    [Fact]
    public async Task ShrinkingBatchesReuseRentedBuffersAndStillEqualRunningAlone()
    {
        // Merged inputs and outputs are rented: a later, smaller batch gets buffers longer than its tensors, holding
        // the previous batch's values. Nothing of them may reach a result, padding included.
        var spec = new GruModelSpec(3, 6, SequenceLengths: true, DenseOutputs: 2, Seed: 36);
        using var backend = Load(spec);
        await using var batcher = Batcher(new() { MaxBatchSize = 64, MaxQueueDelay = TimeSpan.Zero });
        var seed = 100;
        foreach (var round in new[] { (Requests: 6, Time: 9), (Requests: 3, Time: 4), (Requests: 2, Time: 7) })
        {
            var blocker = batcher.RunAsync(backend, Request(spec, 1, 2, null, seed: seed++), Outputs(backend), CancellationToken.None);
            await backend.EnteredAsync();
            var inputs = Enumerable.Range(0, round.Requests)
                .Select(i => Request(spec, 2, round.Time - (i % 3), [round.Time - (i % 3), 1 + (i % 2)], seed: seed++)).ToList();
            var pending = inputs.Select(i => batcher.RunAsync(backend, i, Outputs(backend), CancellationToken.None)).ToList();
            backend.Open(2);
            await blocker;
            var results = await Task.WhenAll(pending);
            await backend.EnteredAsync(); // the batch's own pass through the gate, so the next round waits for its blocker
            for (var i = 0; i < inputs.Count; i++)
            {
                AssertSame($"round of {round.Requests}, request {i}", backend.Inner.Run(inputs[i], Outputs(backend), CancellationToken.None), results[i]);
            }
        }

        Assert.Equal([6 * 2, 3 * 2, 2 * 2], backend.Runs.Where((_, i) => i % 2 == 1).Select(r => (int)r.Rows));
    }

    [Fact]
    public void PooledOutputsHoldTheSameValuesAsNewOnes()
    {
        var spec = new GruModelSpec(3, 6, SequenceLengths: true, DenseOutputs: 2, Seed: 37);
        using var backend = Load(spec);
        var inputs = Request(spec, 3, 5, [5, 2, 4], seed: 1);
        var exact = backend.Inner.Run(inputs, Outputs(backend), CancellationToken.None);
        var pooled = backend.Inner.Run(inputs, Outputs(backend), CancellationToken.None, pooledOutputs: true);
        try
        {
            Assert.Equal(exact.Select(o => (o.Name, o.DataType, string.Join(',', o.Shape))), pooled.Select(o => (o.Name, o.DataType, string.Join(',', o.Shape))));
            for (var i = 0; i < exact.Count; i++)
            {
                var count = (int)NamedTensor.ElementCount(exact[i].Shape);
                Assert.Equal(count, exact[i].Data.Length);
                Assert.True(pooled[i].Data.Length >= count);
                Assert.Equal(((float[])exact[i].Data).AsSpan().ToArray(), ((float[])pooled[i].Data).AsSpan(0, count).ToArray());
            }
        }
        finally
        {
            foreach (var output in pooled)
            {
                PooledTensors.Return(output.Data);
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WithoutSequenceLengthsOnlyEqualLengthsShareABatch(bool timeMajor)
    {
        var spec = new GruModelSpec(3, 5, Seed: 41, TimeMajor: timeMajor);
        using var backend = Load(spec);
        await using var batcher = Batcher(new() { MaxBatchSize = 32, MaxQueueDelay = TimeSpan.Zero });
        var blocker = batcher.RunAsync(backend, Request(spec, 1, 4, null, seed: 0), Outputs(backend), CancellationToken.None);
        await backend.EnteredAsync();

        int[] times = [4, 6, 4, 6, 3];
        var inputs = times.Select((t, i) => Request(spec, 1, t, null, seed: i + 1)).ToList();
        var pending = inputs.Select(i => batcher.RunAsync(backend, i, Outputs(backend), CancellationToken.None)).ToList();
        backend.Open();
        await blocker;
        var results = await Task.WhenAll(pending);

        // Oldest first, each batch one time length: never padded, because this model cannot mask padding.
        Assert.Equal([(1L, 4L), (2L, 4L), (2L, 6L), (1L, 3L)], backend.Runs);
        for (var i = 0; i < inputs.Count; i++)
        {
            AssertSame($"time {times[i]}", backend.Inner.Run(inputs[i], Outputs(backend), CancellationToken.None), results[i]);
        }
    }

    [Theory]
    [InlineData(2, new[] { 1, 1, 1, 1, 1 }, new[] { 2, 2, 1 })]
    [InlineData(4, new[] { 3, 2, 1, 4 }, new[] { 4, 2, 4 })] // 2 does not fit beside 3, the younger 1 does
    [InlineData(2, new[] { 5, 1, 1 }, new[] { 5, 2 })]
    public async Task BatchesStayWithinMaxBatchSizeAndALargerRequestRunsAlone(int maxBatchSize, int[] rows, int[] expectedRuns)
    {
        var spec = GruTestModelsSmall;
        using var backend = Load(spec);
        await using var batcher = Batcher(new() { MaxBatchSize = maxBatchSize, MaxQueueDelay = TimeSpan.Zero });
        var blocker = batcher.RunAsync(backend, Request(spec, 1, 2, null, seed: 0), Outputs(backend), CancellationToken.None);
        await backend.EnteredAsync();

        var pending = rows.Select((r, i) => batcher.RunAsync(backend, Request(spec, r, 3, null, seed: i + 1), Outputs(backend), CancellationToken.None)).ToList();
        backend.Open();
        await blocker;
        var results = await Task.WhenAll(pending);

        Assert.Equal(expectedRuns, backend.Runs.Skip(1).Select(r => (int)r.Rows));
        Assert.Equal(rows, results.Select(r => (int)r[0].Shape[0]));
    }

    [Fact]
    public async Task ALoneRequestDoesNotWaitForBatchMatesThatAreNotComing()
    {
        var spec = GruTestModelsSmall;
        using var backend = Load(spec);
        backend.Open();
        await using var batcher = Batcher(new() { MaxBatchSize = 32, MaxQueueDelay = TimeSpan.FromSeconds(10) });

        // Nothing else is announced (being read), so the batch runs at once instead of after the 10 s delay.
        var outputs = await batcher.RunAsync(backend, Request(spec, 1, 3, null, seed: 1), Outputs(backend), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(1, outputs[0].Shape[0]);
    }

    [Fact]
    public async Task AnAnnouncedRequestIsWaitedForAndJoinsTheBatch()
    {
        var spec = GruTestModelsSmall;
        using var backend = Load(spec);
        backend.Open();
        await using var batcher = Batcher(new() { MaxBatchSize = 32, MaxQueueDelay = TimeSpan.FromSeconds(10) });
        var arrival = batcher.Announce();

        var first = batcher.RunAsync(backend, Request(spec, 1, 3, null, seed: 1), Outputs(backend), CancellationToken.None);
        var second = batcher.RunAsync(backend, Request(spec, 2, 3, null, seed: 2), Outputs(backend), CancellationToken.None);
        arrival.Dispose();
        await Task.WhenAll(first, second);

        Assert.Equal([3L], backend.Runs.Select(r => r.Rows));
    }

    [Fact]
    public async Task AFullQueueRefusesAtOnceAndAFreedPlaceIsReused()
    {
        var spec = GruTestModelsSmall;
        using var backend = Load(spec);
        await using var batcher = Batcher(new() { MaxBatchSize = 1, MaxQueueDelay = TimeSpan.Zero, MaxQueueSize = 2 });
        var running = batcher.RunAsync(backend, Request(spec, 1, 2, null, seed: 0), Outputs(backend), CancellationToken.None);
        await backend.EnteredAsync();
        var queued = Enumerable.Range(1, 2).Select(i => batcher.RunAsync(backend, Request(spec, 1, 2, null, seed: i), Outputs(backend), CancellationToken.None)).ToList();

        var refused = Assert.Throws<InferenceException>(() => { _ = batcher.RunAsync(backend, Request(spec, 1, 2, null, seed: 9), Outputs(backend), CancellationToken.None); });

        Assert.Equal(InferenceErrorKind.Overloaded, refused.Kind);
        Assert.Equal(503, GruServer.Protocol.V2Endpoints.StatusCodeFor(refused.Kind));
        Assert.Contains("--max-queue-size", refused.Message, StringComparison.Ordinal);
        Assert.Equal(2, batcher.Depth);
        backend.Open();
        await Task.WhenAll(queued.Append(running));
        Assert.Equal(0, batcher.Depth);
        Assert.Equal(3, backend.Runs.Count);
    }

    [Fact]
    public async Task ACancelledRequestLeavesTheQueueAndNeverRuns()
    {
        var spec = GruTestModelsSmall;
        using var backend = Load(spec);
        await using var batcher = Batcher(new() { MaxBatchSize = 8, MaxQueueDelay = TimeSpan.Zero, MaxQueueSize = 1 });
        var running = batcher.RunAsync(backend, Request(spec, 1, 2, null, seed: 0), Outputs(backend), CancellationToken.None);
        await backend.EnteredAsync();
        using var clientGone = new CancellationTokenSource();
        var abandoned = batcher.RunAsync(backend, Request(spec, 3, 2, null, seed: 1), Outputs(backend), clientGone.Token);

        await clientGone.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        Assert.Equal(0, batcher.Depth);
        // Its place is free at once: the queue holds one request and takes another.
        var next = batcher.RunAsync(backend, Request(spec, 2, 2, null, seed: 2), Outputs(backend), CancellationToken.None);
        backend.Open();
        await Task.WhenAll(running, next);
        Assert.Equal([1L, 2L], backend.Runs.Select(r => r.Rows));
    }

    [Fact]
    public async Task MetricsCountBatchSizesQueueDepthAndWaits()
    {
        var spec = GruTestModelsSmall;
        using var backend = Load(spec);
        var measured = new List<(string Name, double Value)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == GruServerMetrics.MeterName && instrument.Name is "gru_batch_size" or "gru_queue_depth" or "gru_queue_wait" or "gru_model_run_duration")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((i, v, _, _) => { lock (measured) { measured.Add((i.Name, v)); } });
        listener.SetMeasurementEventCallback<long>((i, v, _, _) => { lock (measured) { measured.Add((i.Name, v)); } });
        listener.SetMeasurementEventCallback<double>((i, v, _, _) => { lock (measured) { measured.Add((i.Name, v)); } });
        listener.Start();
        await using var batcher = Batcher(new() { MaxBatchSize = 8, MaxQueueDelay = TimeSpan.Zero });
        var blocker = batcher.RunAsync(backend, Request(spec, 1, 2, null, seed: 0), Outputs(backend), CancellationToken.None);
        await backend.EnteredAsync();

        var pending = Enumerable.Range(1, 3).Select(i => batcher.RunAsync(backend, Request(spec, 2, 2, null, seed: i), Outputs(backend), CancellationToken.None)).ToList();
        backend.Open();
        await Task.WhenAll(pending.Append(blocker));

        lock (measured)
        {
            Assert.Equal([1.0, 6.0], measured.Where(m => m.Name == "gru_batch_size").Select(m => m.Value));
            Assert.Equal(4, measured.Count(m => m.Name == "gru_queue_wait"));
            // One run alone, one batch of three: a run duration each, and real ones (ONNX Runtime took some time).
            Assert.Equal(2, measured.Count(m => m.Name == "gru_model_run_duration"));
            Assert.All(measured.Where(m => m.Name == "gru_model_run_duration"), m => Assert.InRange(m.Value, 1e-7, 30));
            Assert.Equal(0, measured.Where(m => m.Name == "gru_queue_depth").Sum(m => m.Value));
            Assert.Equal(4, measured.Count(m => m.Name == "gru_queue_depth" && m.Value > 0));
        }
    }

    private static GruModelSpec GruTestModelsSmall => TestSupport.GruTestModels.Small;

    private static GatedBackend Load(GruModelSpec spec) =>
        new(OnnxModelBackend.Load(GruOnnxWriter.ToBytes(GruModel.Create(spec)), new BackendSettings(GruServing.Contract.Serving.ExecutionProvider.CPU, GruServer.Axes.TensorAxesOverride.None), CancellationToken.None, out _));

    private static IReadOnlyList<string> Outputs(IModelBackend backend) => [.. backend.Signature.Outputs.Select(o => o.Name)];

    private static DynamicBatcher Batcher(BatcherSettings settings)
    {
        var options = new GruServerOptions
        {
            ModelPath = "unused.onnx",
            ModelName = "m",
            MaxBatchSize = settings.MaxBatchSize,
            MaxQueueDelay = settings.MaxQueueDelay,
            MaxQueueSize = settings.MaxQueueSize,
        };
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
        var metrics = new GruServerMetrics(meters, new ServedModel("m", "1", "stable"), new FaultInjection(options, TimeProvider.System, new Random(1)), options);
        return new DynamicBatcher(options, metrics, TimeProvider.System, NullLogger<DynamicBatcher>.Instance);
    }

    private static List<NamedTensor> Request(GruModelSpec spec, int rows, int time, int[]? lengths, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows * time * spec.InputSize];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)(random.NextDouble() * 4 - 2);
        }

        long[] shape = spec.TimeMajor ? [time, rows, spec.InputSize] : [rows, time, spec.InputSize];
        var inputs = new List<NamedTensor> { new(GruModelNames.Input, TensorDataType.FP32, shape, x) };
        if (spec.SequenceLengths)
        {
            inputs.Add(new(GruModelNames.SequenceLengths, TensorDataType.INT32, [rows], lengths ?? Enumerable.Repeat(time, rows).ToArray()));
        }

        return inputs;
    }

    private static void AssertSame(string what, IReadOnlyList<NamedTensor> alone, IReadOnlyList<NamedTensor> batched)
    {
        Assert.Equal(alone.Select(o => o.Name), batched.Select(o => o.Name));
        for (var o = 0; o < alone.Count; o++)
        {
            Assert.Equal(alone[o].Shape, batched[o].Shape);
            var expected = (float[])alone[o].Data;
            var actual = (float[])batched[o].Data;
            Assert.Equal(expected.Length, actual.Length); // a rented buffer is longer than its tensor: none may reach a result
            var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).DefaultIfEmpty().Max();
            Assert.True(worst <= Tolerance, $"{what}: output '{alone[o].Name}' differs from running alone by {worst:E2}");
        }
    }

    private sealed record BatcherSettings
    {
        public int MaxBatchSize { get; init; } = 32;
        public TimeSpan MaxQueueDelay { get; init; }
        public int MaxQueueSize { get; init; } = 256;
    }
}
