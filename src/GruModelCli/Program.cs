using System.CommandLine;
using System.Security.Cryptography;
using GruOnnx.Models;
using GruOnnx.Writing;

// gru-model: writes an ONNX GRU model with seeded random weights, so tests, benchmarks and the
// sample model never need Python or a training run; `push`, `pull` and `inspect` publish models to an
// OCI registry and get them back verified (RegistryCommands.cs). Writing stays the root command so
// `gru-model --output model.onnx ...` keeps working as before.
var output = new Option<FileInfo>("--output", "-o") { Description = "Path of the .onnx file to write.", Required = true };
var inputSize = new Option<int>("--input-size") { Description = "Features per time step (I).", DefaultValueFactory = _ => 8 };
var hiddenSize = new Option<int>("--hidden-size") { Description = "Hidden units per direction (H).", DefaultValueFactory = _ => 32 };
var layers = new Option<int>("--layers") { Description = "Stacked GRU layers.", DefaultValueFactory = _ => 1 };
var direction = new Option<GruDirection>("--direction") { Description = "Forward, Reverse or Bidirectional.", DefaultValueFactory = _ => GruDirection.Forward };
var linearBeforeReset = new Option<bool>("--linear-before-reset") { Description = "Use linear_before_reset=1 (PyTorch/cuDNN gate order)." };
var sequenceLengths = new Option<bool>("--sequence-lengths") { Description = "Add an INT32 sequence_lengths [batch] input that masks padded steps." };
var denseOutputs = new Option<int>("--dense-outputs") { Description = "Outputs of a dense head on the final hidden state; 0 = no head, output is every step.", DefaultValueFactory = _ => 0 };
var stateInputs = new Option<bool>("--state-inputs") { Description = "Expose each layer's GRU initial_h as an input (initial_h_N) and Y_h as an output (y_h_N), as GruServer --sessions-mode Stateful needs." };
var variant = new Option<GruModelVariant>("--variant") { Description = "Reference (the weights as drawn), SwappedGates (update and reset gates swapped: same speed, different numbers) or Rounded8Bit (each weight tensor rounded to 8-bit levels): canaries for output-divergence analysis.", DefaultValueFactory = _ => GruModelVariant.Reference };
var seed = new Option<int>("--seed") { Description = "Seed of the weight generator; the same flags always give the same file.", DefaultValueFactory = _ => 1 };

var root = new RootCommand("Writes an ONNX GRU model (opset 17, standard GRU operator) with seeded random weights; push, pull and inspect talk to OCI registries.")
{
    output, inputSize, hiddenSize, layers, direction, linearBeforeReset, sequenceLengths, denseOutputs, seed, stateInputs, variant,
};
foreach (var command in GruModelCli.RegistryCommands.Create())
{
    root.Subcommands.Add(command);
}

root.SetAction(async (parse, cancellationToken) =>
{
    var spec = new GruModelSpec(
        parse.GetValue(inputSize),
        parse.GetValue(hiddenSize),
        parse.GetValue(layers),
        parse.GetValue(direction),
        parse.GetValue(linearBeforeReset),
        parse.GetValue(sequenceLengths),
        parse.GetValue(denseOutputs),
        parse.GetValue(seed),
        StateInputs: parse.GetValue(stateInputs));
    try
    {
        spec.Validate();
    }
    catch (ArgumentException e)
    {
        await Console.Error.WriteLineAsync($"gru-model: {e.Message}").ConfigureAwait(false);
        return 2;
    }

    var path = parse.GetValue(output)!.FullName;
    var chosen = parse.GetValue(variant);
    await GruOnnxWriter.WriteAsync(GruModelVariants.Apply(GruModel.Create(spec), chosen), path, cancellationToken).ConfigureAwait(false);
    var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
    Console.WriteLine($"wrote {path} ({bytes.Length} bytes)");
    Console.WriteLine($"  {GruOnnxWriter.Describe(spec)} variant={chosen}");
    Console.WriteLine($"  sha256:{Convert.ToHexStringLower(SHA256.HashData(bytes))}");
    return 0;
});

return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
