using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using GruOnnx.Models;
using GruOnnx.Writing;

namespace TestSupport;

/// <summary>Small GRU models and matching infer requests for tests, written with GruOnnx (no Python).</summary>
public static class GruTestModels
{
    /// <summary>A small masked model with a dense head: input FP32 [batch, time, 4], sequence_lengths INT32
    /// [batch], output FP32 [batch, 2], hidden FP32 [batch, 8].</summary>
    public static GruModelSpec Small { get; } = new(InputSize: 4, HiddenSize: 8, Layers: 1, SequenceLengths: true, DenseOutputs: 2, Seed: 7);

    /// <summary>Writes the model for <paramref name="spec"/> to a new file under the temp directory.</summary>
    public static async Task<GruModelFile> WriteAsync(GruModelSpec? spec = null, CancellationToken cancellationToken = default)
    {
        spec ??= Small;
        var directory = Path.Combine(Path.GetTempPath(), "gru-test-models");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"gru-{Guid.NewGuid():N}.onnx");
        await GruOnnxWriter.WriteAsync(GruModel.Create(spec), path, cancellationToken).ConfigureAwait(false);
        var digest = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false)));
        return new GruModelFile(path, spec, digest);
    }

    /// <summary>A valid v2 infer request body for <paramref name="spec"/>: <paramref name="batch"/> sequences of
    /// <paramref name="steps"/> steps with seeded values in [-1, 1], all full length.</summary>
    public static string InferRequestJson(GruModelSpec spec, int batch = 1, int steps = 5, int seed = 1, string? id = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var random = new Random(seed);
        var json = new StringBuilder("{");
        if (id is not null)
        {
            json.Append(CultureInfo.InvariantCulture, $"\"id\":\"{id}\",");
        }

        var shape = spec.TimeMajor ? $"{steps},{batch}" : $"{batch},{steps}";
        json.Append(CultureInfo.InvariantCulture, $"\"inputs\":[{{\"name\":\"{GruModelNames.Input}\",\"shape\":[{shape},{spec.InputSize}],\"datatype\":\"FP32\",\"data\":[");
        var count = batch * steps * spec.InputSize;
        for (var i = 0; i < count; i++)
        {
            json.Append(i == 0 ? "" : ",").Append(((float)(random.NextDouble() * 2 - 1)).ToString("R", CultureInfo.InvariantCulture));
        }

        json.Append("]}");
        if (spec.SequenceLengths)
        {
            json.Append(CultureInfo.InvariantCulture, $",{{\"name\":\"{GruModelNames.SequenceLengths}\",\"shape\":[{batch}],\"datatype\":\"INT32\",\"data\":[");
            json.Append(string.Join(",", Enumerable.Repeat(steps, batch))).Append("]}");
        }

        return json.Append("]}").ToString();
    }
}

/// <summary>A model written for a test: where it is, what it is, and its sha256 (lower-case hex).</summary>
public sealed record GruModelFile(string Path, GruModelSpec Spec, string Sha256);
