namespace GruOnnx.Models;

/// <summary>Which way a GRU layer reads the time axis (the ONNX GRU <c>direction</c> attribute).</summary>
public enum GruDirection
{
    Forward,
    Reverse,
    Bidirectional,
}

/// <summary>The shape of a GRU model: sizes, stacking, direction, gate variant, masking input and dense head.</summary>
/// <param name="InputSize">Features per time step (I).</param>
/// <param name="HiddenSize">Hidden units per direction (H).</param>
/// <param name="Layers">Stacked GRU layers; layer n+1 reads the concatenated directions of layer n.</param>
/// <param name="Direction">Forward, reverse or bidirectional, the same for every layer.</param>
/// <param name="LinearBeforeReset">ONNX <c>linear_before_reset</c>: 1 applies the reset gate after the recurrent linear map (PyTorch/cuDNN style).</param>
/// <param name="SequenceLengths">Adds an INT32 <c>sequence_lengths</c> [batch] input wired to every layer's <c>sequence_lens</c>, so padded steps are masked.</param>
/// <param name="DenseOutputs">When above zero, a dense head maps the final hidden state to this many outputs.</param>
/// <param name="Seed">Seed of the weight generator: the same spec always yields the same bytes.</param>
/// <param name="TimeMajor">Input (and per-step output) time-major, <c>[time, batch, features]</c>, as the ONNX GRU op's
/// default <c>layout=0</c> and PyTorch's <c>batch_first=False</c> export it; batch-major <c>[batch, time, features]</c> otherwise.</param>
/// <param name="StateInputs">Each layer gets an FP32 <c>initial_h_{layer}</c> [directions, batch, hidden] input feeding its GRU's
/// <c>initial_h</c> and a <c>y_h_{layer}</c> output carrying its <c>Y_h</c>, so a server can carry a sequence's state between requests.</param>
public sealed record GruModelSpec(
    int InputSize,
    int HiddenSize,
    int Layers = 1,
    GruDirection Direction = GruDirection.Forward,
    bool LinearBeforeReset = false,
    bool SequenceLengths = false,
    int DenseOutputs = 0,
    int Seed = 1,
    bool TimeMajor = false,
    bool StateInputs = false)
{
    /// <summary>Largest size accepted for any dimension; keeps a typo from writing a multi-gigabyte file.</summary>
    public const int MaxDimension = 8192;

    /// <summary>Number of directions (1 or 2) each layer computes.</summary>
    public int DirectionCount => Direction == GruDirection.Bidirectional ? 2 : 1;

    /// <summary>Width of a layer's output per time step: directions × hidden size.</summary>
    public int LayerOutputSize => DirectionCount * HiddenSize;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first field that is out of range.</summary>
    public void Validate()
    {
        RequireRange(InputSize, 1, MaxDimension, nameof(InputSize));
        RequireRange(HiddenSize, 1, MaxDimension, nameof(HiddenSize));
        RequireRange(Layers, 1, 64, nameof(Layers));
        RequireRange(DenseOutputs, 0, MaxDimension, nameof(DenseOutputs));
        if (!Enum.IsDefined(Direction))
        {
            throw new ArgumentException($"{nameof(Direction)} must be Forward, Reverse or Bidirectional, not {(int)Direction}.", nameof(Direction));
        }
    }

    private static void RequireRange(int value, int min, int max, string name)
    {
        if (value < min || value > max)
        {
            throw new ArgumentException($"{name} must be between {min} and {max}, got {value}.", name);
        }
    }
}

/// <summary>Tensor names of the models this library writes.</summary>
public static class GruModelNames
{
    /// <summary>FP32 [batch, time, input_size], batch-major.</summary>
    public const string Input = "input";

    /// <summary>INT32 [batch]: valid steps per sequence (present when the spec asks for masking).</summary>
    public const string SequenceLengths = "sequence_lengths";

    /// <summary>FP32 [batch, time, directions × hidden] without a head; [batch, dense_outputs] with one.</summary>
    public const string Output = "output";

    /// <summary>FP32 [batch, directions × hidden]: the last layer's final hidden state (masking-aware).</summary>
    public const string Hidden = "hidden";

    /// <summary>FP32 [directions, batch, hidden]: layer <paramref name="layer"/>'s initial hidden state (with <see cref="GruModelSpec.StateInputs"/>).</summary>
    public static string InitialHidden(int layer) => $"initial_h_{layer}";

    /// <summary>FP32 [directions, batch, hidden]: layer <paramref name="layer"/>'s final hidden state (with <see cref="GruModelSpec.StateInputs"/>).</summary>
    public static string FinalHidden(int layer) => $"y_h_{layer}";
}
