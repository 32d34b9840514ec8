using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using GruOnnx.Models;
using TestSupport;

namespace GruServer.Tests.Axes;

/// <summary>A standard time-major GRU model (X [seq, batch, input], the ONNX op's default layout) served by the real
/// process: a 100-step sequence is one sequence, not "batch size 100", its answer equals the batch-major model with the
/// same weights, and model metadata says which axes the server uses.</summary>
public sealed class TimeMajorServingTests
{
    [Fact]
    public async Task AHundredStepSequenceIsServedAndEqualsTheBatchMajorModel()
    {
        const int steps = 100;
        var batchMajor = new GruModelSpec(InputSize: 4, HiddenSize: 8, SequenceLengths: true, DenseOutputs: 2, Seed: 11);
        var timeMajor = batchMajor with { TimeMajor = true };
        var values = Values(steps * 2 * batchMajor.InputSize, seed: 5);

        var expected = await InferAsync(batchMajor, [2, steps, 4], values);
        var actual = await InferAsync(timeMajor, [steps, 2, 4], Transpose(values, 2, steps, 4));

        Assert.Equal(HttpStatusCode.OK, actual.Status);
        Assert.Equal([2L, 2L], actual.Output.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
        var e = expected.Output.GetProperty("data").EnumerateArray().Select(d => d.GetDouble()).ToList();
        var a = actual.Output.GetProperty("data").EnumerateArray().Select(d => d.GetDouble()).ToList();
        Assert.Equal(e.Count, a.Count);
        Assert.All(e.Zip(a), p => Assert.True(Math.Abs(p.First - p.Second) < 1e-5, $"{p.First} vs {p.Second}"));

        var input = actual.Metadata.GetProperty("inputs")[0].GetProperty("parameters");
        Assert.Equal((1, 0), (input.GetProperty("batch_axis").GetInt32(), input.GetProperty("time_axis").GetInt32()));
        Assert.Contains("layout=0", input.GetProperty("axes_source").GetString(), StringComparison.Ordinal);
        var parameters = actual.Metadata.GetProperty("parameters");
        Assert.Equal("sequence_lengths", parameters.GetProperty("sequence_lengths_input").GetString());
        Assert.True(parameters.GetProperty("batchable").GetBoolean());
        Assert.True(parameters.GetProperty("pads_time").GetBoolean());
    }

    [Fact]
    public async Task TheTimeMajorModelsLimitsApplyToItsOwnAxes()
    {
        var spec = new GruModelSpec(InputSize: 4, HiddenSize: 8, Seed: 12, TimeMajor: true);
        var tooMany = await InferAsync(spec, [3, 5, 4], Values(3 * 5 * 4, seed: 1), "--max-request-batch-size", "4");

        Assert.Equal(HttpStatusCode.BadRequest, tooMany.Status);
        Assert.Contains("batch size 5 (dimension 1)", tooMany.Error, StringComparison.Ordinal);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Output, JsonElement Metadata, string Error)> InferAsync(
        GruModelSpec spec, long[] shape, float[] values, params string[] arguments)
    {
        var model = await GruTestModels.WriteAsync(spec);
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions { ModelPath = model.Path, ModelName = "gru", ExtraArguments = arguments });
        using var http = new HttpClient { BaseAddress = server.BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
        var batch = spec.TimeMajor ? shape[1] : shape[0];
        var time = spec.TimeMajor ? shape[0] : shape[1];
        var body = new StringBuilder().Append(CultureInfo.InvariantCulture, $"{{\"inputs\":[{{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[{string.Join(",", shape)}],\"data\":[");
        body.AppendJoin(",", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture))).Append("]}");
        if (spec.SequenceLengths)
        {
            body.Append(CultureInfo.InvariantCulture, $",{{\"name\":\"sequence_lengths\",\"datatype\":\"INT32\",\"shape\":[{batch}],\"data\":[{string.Join(",", Enumerable.Repeat(time, (int)batch))}]}}");
        }

        using var response = await http.PostAsync("v2/models/gru/infer", new StringContent(body.Append("]}").ToString(), Encoding.UTF8, "application/json"));
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        var metadata = JsonDocument.Parse(await http.GetStringAsync("v2/models/gru")).RootElement.Clone();
        return response.StatusCode == HttpStatusCode.OK
            ? (response.StatusCode, json.GetProperty("outputs").EnumerateArray().First(o => o.GetProperty("name").GetString() == "output"), metadata, "")
            : (response.StatusCode, default, metadata, json.GetProperty("error").GetString()!);
    }

    private static float[] Values(int count, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1))];
    }

    /// <summary>[a, b, c] row-major to [b, a, c].</summary>
    private static float[] Transpose(float[] values, int a, int b, int c)
    {
        var result = new float[values.Length];
        for (var i = 0; i < a; i++)
        {
            for (var j = 0; j < b; j++)
            {
                Array.Copy(values, ((i * b) + j) * c, result, ((j * a) + i) * c, c);
            }
        }

        return result;
    }
}
