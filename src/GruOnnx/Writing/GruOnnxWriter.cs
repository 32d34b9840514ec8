using System.Runtime.InteropServices;
using Google.Protobuf;
using GruOnnx.Models;
using GruOnnx.Protobuf;

namespace GruOnnx.Writing;

/// <summary>Turns a <see cref="GruModel"/> into an ONNX graph built from the standard <c>GRU</c> operator.</summary>
/// <remarks>
/// Graph (batch-major edges; with <see cref="GruModelSpec.TimeMajor"/> the input and per-step output stay time-major
/// and the first Transpose is left out), time-major inside (ONNX Runtime's CPU GRU kernel rejects layout=1):
/// <code>
/// input [B,T,I] ─Transpose→ [T,B,I] ─GRU→ Y [T,D,B,H] ─Transpose,Reshape→ [T,B,D·H] ─GRU→ … (layers)
/// last Y   ─Transpose [2,0,1,3], Reshape [0,0,-1]→ output [B,T,D·H]          (no head)
/// last Y_h ─Transpose [1,0,2],  Reshape [0,-1]  → hidden [B,D·H] ─MatMul,Add→ output [B,O] (head)
/// </code>
/// The head reads the final hidden state rather than every step: with <c>sequence_lens</c> that state is
/// taken at each sequence's own last valid step, so padding cannot leak into the prediction.
/// </remarks>
public static class GruOnnxWriter
{
    /// <summary>IR version 8 (ONNX 1.10+), read by every ONNX Runtime since 1.10.</summary>
    public const long IrVersion = 8;

    /// <summary>Default-domain opset; GRU has been stable since opset 14 (which added <c>layout</c>).</summary>
    public const long Opset = 17;

    /// <summary>Builds the ONNX protobuf for a model.</summary>
    public static ModelProto ToOnnx(GruModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var spec = model.Spec;
        spec.Validate();
        var graph = new GraphProto { Name = "gru" };

        var timeMajor = spec.TimeMajor;
        graph.Input.Add(timeMajor
            ? TensorValue(GruModelNames.Input, TensorProto.Types.DataType.Float, "time", "batch", spec.InputSize)
            : TensorValue(GruModelNames.Input, TensorProto.Types.DataType.Float, "batch", "time", spec.InputSize));
        if (spec.SequenceLengths)
        {
            graph.Input.Add(TensorValue(GruModelNames.SequenceLengths, TensorProto.Types.DataType.Int32, "batch"));
        }

        // Reshape targets; [0, 0, -1] is only needed between layers or for a per-step output.
        if (spec.Layers > 1 || spec.DenseOutputs == 0)
        {
            graph.Initializer.Add(Int64Tensor("shape_keep2_flatten", 0, 0, -1));
        }

        graph.Initializer.Add(Int64Tensor("shape_keep1_flatten", 0, -1));

        // A time-major input is already what the GRU op reads (layout=0); a batch-major one is transposed to it.
        var layerInput = GruModelNames.Input;
        if (!timeMajor)
        {
            graph.Node.Add(Transpose(GruModelNames.Input, "x_time_major", 1, 0, 2));
            layerInput = "x_time_major";
        }

        string y = "", yh = "";
        for (var l = 0; l < model.Layers.Count; l++)
        {
            var layer = model.Layers[l];
            graph.Initializer.Add(FloatTensor($"gru{l}_W", Stack(layer.Directions, d => d.W), spec.DirectionCount, 3 * spec.HiddenSize, layer.InputSize));
            graph.Initializer.Add(FloatTensor($"gru{l}_R", Stack(layer.Directions, d => d.R), spec.DirectionCount, 3 * spec.HiddenSize, spec.HiddenSize));
            graph.Initializer.Add(FloatTensor($"gru{l}_B", Stack(layer.Directions, d => [.. d.Wb, .. d.Rb]), spec.DirectionCount, 6 * spec.HiddenSize));

            y = $"gru{l}_Y";
            yh = $"gru{l}_Y_h";
            var gru = new NodeProto { OpType = "GRU", Name = $"gru{l}" };
            gru.Input.Add([layerInput, $"gru{l}_W", $"gru{l}_R", $"gru{l}_B"]);
            if (spec.SequenceLengths)
            {
                gru.Input.Add(GruModelNames.SequenceLengths);
            }

            if (spec.StateInputs)
            {
                // initial_h is the op's sixth input; an empty name skips sequence_lens when the model has none.
                if (!spec.SequenceLengths)
                {
                    gru.Input.Add("");
                }

                gru.Input.Add(GruModelNames.InitialHidden(l));
                graph.Input.Add(TensorValue(GruModelNames.InitialHidden(l), TensorProto.Types.DataType.Float, spec.DirectionCount, "batch", spec.HiddenSize));
            }

            gru.Output.Add([y, yh]);
            gru.Attribute.Add(IntAttribute("hidden_size", spec.HiddenSize));
            gru.Attribute.Add(IntAttribute("linear_before_reset", spec.LinearBeforeReset ? 1 : 0));
            gru.Attribute.Add(StringAttribute("direction", spec.Direction switch
            {
                GruDirection.Forward => "forward",
                GruDirection.Reverse => "reverse",
                _ => "bidirectional",
            }));
            graph.Node.Add(gru);
            if (spec.StateInputs)
            {
                graph.Node.Add(Node("Identity", [yh], GruModelNames.FinalHidden(l)));
                graph.Output.Add(TensorValue(GruModelNames.FinalHidden(l), TensorProto.Types.DataType.Float, spec.DirectionCount, "batch", spec.HiddenSize));
            }

            if (l < model.Layers.Count - 1)
            {
                graph.Node.Add(Transpose(y, $"gru{l}_Y_tbdh", 0, 2, 1, 3));
                graph.Node.Add(Reshape($"gru{l}_Y_tbdh", "shape_keep2_flatten", $"x{l + 1}"));
                layerInput = $"x{l + 1}";
            }
        }

        graph.Node.Add(Transpose(yh, "hidden_bdh", 1, 0, 2));
        graph.Node.Add(Reshape("hidden_bdh", "shape_keep1_flatten", GruModelNames.Hidden));

        if (model.Head is { } head)
        {
            graph.Initializer.Add(FloatTensor("dense_W", head.Weight, spec.LayerOutputSize, spec.DenseOutputs));
            graph.Initializer.Add(FloatTensor("dense_B", head.Bias, spec.DenseOutputs));
            graph.Node.Add(Node("MatMul", [GruModelNames.Hidden, "dense_W"], "dense_matmul"));
            graph.Node.Add(Node("Add", ["dense_matmul", "dense_B"], GruModelNames.Output));
            graph.Output.Add(TensorValue(GruModelNames.Output, TensorProto.Types.DataType.Float, "batch", spec.DenseOutputs));
        }
        else
        {
            if (timeMajor)
            {
                graph.Node.Add(Transpose(y, "y_tbdh", 0, 2, 1, 3));
                graph.Node.Add(Reshape("y_tbdh", "shape_keep2_flatten", GruModelNames.Output));
                graph.Output.Add(TensorValue(GruModelNames.Output, TensorProto.Types.DataType.Float, "time", "batch", spec.LayerOutputSize));
            }
            else
            {
                graph.Node.Add(Transpose(y, "y_btdh", 2, 0, 1, 3));
                graph.Node.Add(Reshape("y_btdh", "shape_keep2_flatten", GruModelNames.Output));
                graph.Output.Add(TensorValue(GruModelNames.Output, TensorProto.Types.DataType.Float, "batch", "time", spec.LayerOutputSize));
            }
        }

        graph.Output.Add(TensorValue(GruModelNames.Hidden, TensorProto.Types.DataType.Float, "batch", spec.LayerOutputSize));

        var proto = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "gru-model",
            ProducerVersion = "1",
            Graph = graph,
            DocString = Describe(spec),
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        proto.MetadataProps.Add(new StringStringEntryProto { Key = "gru.spec", Value = Describe(spec) });
        return proto;
    }

    /// <summary>Serialises the model to ONNX bytes.</summary>
    public static byte[] ToBytes(GruModel model) => ToOnnx(model).ToByteArray();

    /// <summary>Writes the model as an ONNX file, replacing any file at <paramref name="path"/>.</summary>
    public static async Task WriteAsync(GruModel model, string path, CancellationToken cancellationToken)
    {
        var bytes = ToBytes(model);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        await File.WriteAllBytesAsync(path, bytes, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One line saying what the model is; stored as the doc string and in metadata.</summary>
    public static string Describe(GruModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return $"GRU input_size={spec.InputSize} hidden_size={spec.HiddenSize} layers={spec.Layers} " +
            $"direction={spec.Direction.ToString().ToLowerInvariant()} linear_before_reset={(spec.LinearBeforeReset ? 1 : 0)} " +
            $"sequence_lengths={(spec.SequenceLengths ? "yes" : "no")} dense_outputs={spec.DenseOutputs} seed={spec.Seed}" +
            (spec.TimeMajor ? " layout=time-major" : "") + (spec.StateInputs ? " state=inputs" : "");
    }

    private static float[] Stack(IReadOnlyList<GruDirectionWeights> directions, Func<GruDirectionWeights, float[]> select) =>
        [.. directions.SelectMany(select)];

    private static NodeProto Node(string opType, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = opType, Name = output };
        node.Input.Add(inputs);
        node.Output.Add(output);
        return node;
    }

    private static NodeProto Transpose(string input, string output, params long[] perm)
    {
        var node = Node("Transpose", [input], output);
        var attribute = new AttributeProto { Name = "perm", Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.Add(perm);
        node.Attribute.Add(attribute);
        return node;
    }

    private static NodeProto Reshape(string input, string shape, string output) => Node("Reshape", [input, shape], output);

    private static AttributeProto IntAttribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto StringAttribute(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    private static TensorProto FloatTensor(string name, float[] values, params long[] dims)
    {
        var expected = dims.Aggregate(1L, (a, b) => a * b);
        if (values.Length != expected)
        {
            throw new ArgumentException($"Tensor {name} has {values.Length} values but its shape [{string.Join(",", dims)}] needs {expected}.", nameof(values));
        }

        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.Add(dims);
        // raw_data must be little-endian IEEE 754; every platform .NET runs this on is little-endian.
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        return tensor;
    }

    private static TensorProto Int64Tensor(string name, params long[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.Add(values);
        return tensor;
    }

    private static ValueInfoProto TensorValue(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
        {
            shape.Dim.Add(dim switch
            {
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                int size => new TensorShapeProto.Types.Dimension { DimValue = size },
                _ => throw new ArgumentException($"Dimension {dim} must be a symbol or a size.", nameof(dims)),
            });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
