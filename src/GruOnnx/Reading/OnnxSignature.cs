using Google.Protobuf;
using GruOnnx.Protobuf;

namespace GruOnnx.Reading;

/// <summary>One graph input or output: name, ONNX element type name (FP32, INT32, ...) and shape (-1 for a named or unknown dimension).</summary>
public sealed record OnnxTensorInfo(string Name, string DataType, IReadOnlyList<long> Shape);

/// <summary>The GRU layers of a graph: sizes from the first layer's attributes and weights, the count of GRU nodes.</summary>
public sealed record OnnxGruLayers(int InputSize, int HiddenSize, int Layers, string Direction, bool LinearBeforeReset);

/// <summary>What a published model declares about itself: producer, inputs, outputs and, when it has them, its GRU layers.</summary>
public sealed record OnnxSignature(string Producer, IReadOnlyList<OnnxTensorInfo> Inputs, IReadOnlyList<OnnxTensorInfo> Outputs, OnnxGruLayers? Gru)
{
    /// <summary>
    /// Reads the signature of an ONNX file (any producer, not only gru-model). Throws <see cref="InvalidDataException"/>
    /// when the file is not an ONNX model.
    /// </summary>
    public static async Task<OnnxSignature> ReadAsync(string path, CancellationToken cancellationToken)
    {
        ModelProto model;
        try
        {
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
            using var memory = new MemoryStream();
            await stream.CopyToAsync(memory, cancellationToken).ConfigureAwait(false);
            memory.Position = 0;
            model = ModelProto.Parser.ParseFrom(memory);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new InvalidDataException($"'{path}' is not an ONNX model: {ex.Message}", ex);
        }

        if (model.Graph is not { } graph || graph.Input.Count == 0 || graph.Output.Count == 0)
        {
            throw new InvalidDataException($"'{path}' is not an ONNX model: it has no graph with inputs and outputs");
        }

        var initializers = graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var producer = string.Join(' ', new[] { model.ProducerName, model.ProducerVersion }.Where(p => p.Length > 0));
        return new OnnxSignature(
            producer.Length == 0 ? "unknown" : producer,
            graph.Input.Where(i => !initializers.Contains(i.Name)).Select(Tensor).ToList(), // older exporters list weights as inputs
            graph.Output.Select(Tensor).ToList(),
            GruLayers(graph));
    }

    private static OnnxTensorInfo Tensor(ValueInfoProto value)
    {
        var tensor = value.Type?.TensorType;
        var shape = tensor?.Shape?.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : -1L).ToList() ?? [];
        var type = tensor is null ? "UNKNOWN" : (TensorProto.Types.DataType)tensor.ElemType switch
        {
            TensorProto.Types.DataType.Float => "FP32",
            TensorProto.Types.DataType.Double => "FP64",
            TensorProto.Types.DataType.Float16 => "FP16",
            TensorProto.Types.DataType.Int32 => "INT32",
            TensorProto.Types.DataType.Int64 => "INT64",
            TensorProto.Types.DataType.Int8 => "INT8",
            TensorProto.Types.DataType.Uint8 => "UINT8",
            TensorProto.Types.DataType.Bool => "BOOL",
            TensorProto.Types.DataType.String => "BYTES",
            var other => other.ToString().ToUpperInvariant(),
        };
        return new OnnxTensorInfo(value.Name, type, shape);
    }

    private static OnnxGruLayers? GruLayers(GraphProto graph)
    {
        var grus = graph.Node.Where(n => n.OpType == "GRU").ToList();
        if (grus.Count == 0)
        {
            return null;
        }

        var first = grus[0];
        long Attribute(string name) => first.Attribute.FirstOrDefault(a => a.Name == name)?.I ?? 0;
        var direction = first.Attribute.FirstOrDefault(a => a.Name == "direction")?.S.ToStringUtf8() ?? "forward";
        // W is [num_directions, 3*hidden_size, input_size].
        var weights = first.Input.Count > 1 ? graph.Initializer.FirstOrDefault(i => i.Name == first.Input[1]) : null;
        var inputSize = weights is { Dims.Count: 3 } ? (int)weights.Dims[2] : -1;
        return new OnnxGruLayers(inputSize, (int)Attribute("hidden_size"), grus.Count, direction, Attribute("linear_before_reset") == 1);
    }
}
