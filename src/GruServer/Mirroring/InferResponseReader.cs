using System.Buffers.Binary;
using System.Text.Json;

namespace GruServer.Mirroring;

/// <summary>One output of the canary's answer, its values widened to double for comparison.</summary>
internal sealed record ComparedTensor(string Name, long[] Shape, double[] Values);

/// <summary>Reads the outputs of an Open Inference Protocol infer response: JSON, or JSON followed by raw tensor bytes
/// (the binary tensor extension, <c>Inference-Header-Content-Length</c> giving the JSON part's length).</summary>
internal static class InferResponseReader
{
    /// <summary>The outputs, or throws <see cref="FormatException"/> naming what is wrong.</summary>
    public static IReadOnlyList<ComparedTensor> Read(ReadOnlySpan<byte> body, int? headerLength)
    {
        var jsonLength = headerLength ?? body.Length;
        if (jsonLength < 0 || jsonLength > body.Length)
        {
            throw new FormatException($"the JSON part's length {jsonLength} is outside the {body.Length}-byte body");
        }

        var binary = body[jsonLength..];
        var outputs = new List<ComparedTensor>();
        try
        {
            var reader = new Utf8JsonReader(body[..jsonLength]);
            using var document = JsonDocument.ParseValue(ref reader);
            if (!document.RootElement.TryGetProperty("outputs", out var array) || array.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException("the response has no 'outputs' array");
            }

            foreach (var output in array.EnumerateArray())
            {
                var name = output.GetProperty("name").GetString() ?? throw new FormatException("an output has no name");
                var datatype = output.GetProperty("datatype").GetString();
                var shape = output.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                var count = checked((int)shape.Aggregate(1L, (a, d) => checked(a * d)));
                double[] values;
                if (output.TryGetProperty("data", out var data))
                {
                    values = [.. data.EnumerateArray().Select(v => v.GetDouble())];
                }
                else if (output.TryGetProperty("parameters", out var parameters) && parameters.TryGetProperty("binary_data_size", out var size))
                {
                    var bytes = size.GetInt32();
                    if (bytes > binary.Length)
                    {
                        throw new FormatException($"output '{name}' says {bytes} binary bytes but only {binary.Length} remain");
                    }

                    values = Decode(binary[..bytes], datatype, count, name);
                    binary = binary[bytes..];
                }
                else
                {
                    throw new FormatException($"output '{name}' has neither 'data' nor 'binary_data_size'");
                }

                if (values.Length != count)
                {
                    throw new FormatException($"output '{name}' has {values.Length} values for shape [{string.Join(",", shape)}]");
                }

                outputs.Add(new ComparedTensor(name, shape, values));
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or OverflowException)
        {
            throw new FormatException($"not an infer response: {e.Message}", e);
        }

        return outputs;
    }

    private static double[] Decode(ReadOnlySpan<byte> raw, string? datatype, int count, string name)
    {
        var width = datatype switch
        {
            "FP32" or "INT32" => 4,
            "FP64" or "INT64" => 8,
            _ => throw new FormatException($"output '{name}' has datatype '{datatype}', which this server does not compare"),
        };
        if (raw.Length != count * width)
        {
            throw new FormatException($"output '{name}' has {raw.Length} bytes for {count} {datatype} values");
        }

        var values = new double[count];
        for (var i = 0; i < count; i++)
        {
            var slice = raw.Slice(i * width, width);
            values[i] = datatype switch
            {
                "FP32" => BinaryPrimitives.ReadSingleLittleEndian(slice),
                "INT32" => BinaryPrimitives.ReadInt32LittleEndian(slice),
                "FP64" => BinaryPrimitives.ReadDoubleLittleEndian(slice),
                _ => BinaryPrimitives.ReadInt64LittleEndian(slice),
            };
        }

        return values;
    }
}
