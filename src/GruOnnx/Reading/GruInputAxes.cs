using GruOnnx.Protobuf;

namespace GruOnnx.Reading;

/// <summary>What one graph input is to the GRU node it feeds: which of its axes is the batch and which the time
/// (-1: it has none), and which GRU input it is (X, sequence_lens or initial_h).</summary>
public sealed record GruInputRole(string Input, string GruInput, int BatchAxis, int TimeAxis, string Evidence);

/// <summary>Finds the batch and time axes of a graph's inputs from the graph itself: each input is followed
/// through Transpose and Identity nodes to the GRU node it feeds, and the GRU's <c>layout</c> attribute says what
/// the axes mean there (layout=0: X is [seq, batch, input]; layout=1: [batch, seq, input]).</summary>
/// <remarks>Only axis-preserving ops are followed: after a Reshape, Gather or Concat an axis of the GRU's input no
/// longer names one axis of the graph input, so such an input is reported as not traced rather than guessed.</remarks>
public static class GruInputAxes
{
    /// <summary>Index of each GRU input in the ONNX op's input list.</summary>
    private static readonly string[] GruInputNames = ["X", "W", "R", "B", "sequence_lens", "initial_h"];

    /// <summary>The role of every graph input that reaches a GRU through axis-preserving ops, by input name.
    /// An input that reaches two GRU inputs with different axes gets a role whose axes are -1 and whose evidence says so.</summary>
    public static IReadOnlyDictionary<string, GruInputRole> Trace(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph ?? throw new InvalidDataException("the model has no graph");
        var initializers = graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var consumers = new Dictionary<string, List<NodeProto>>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            foreach (var input in node.Input.Where(i => i.Length > 0))
            {
                if (!consumers.TryGetValue(input, out var list))
                {
                    consumers[input] = list = [];
                }

                list.Add(node);
            }
        }

        var roles = new Dictionary<string, GruInputRole>(StringComparer.Ordinal);
        foreach (var input in graph.Input.Where(i => !initializers.Contains(i.Name)))
        {
            var rank = input.Type?.TensorType?.Shape?.Dim.Count ?? 0;
            if (rank == 0)
            {
                continue;
            }

            var found = new List<GruInputRole>();
            Follow(input.Name, input.Name, [.. Enumerable.Range(0, rank)], [], consumers, found, depth: 0);
            if (found.Count == 0)
            {
                continue;
            }

            var first = found[0];
            roles[input.Name] = found.All(r => r.BatchAxis == first.BatchAxis && r.TimeAxis == first.TimeAxis)
                ? first
                : first with
                {
                    BatchAxis = -1,
                    TimeAxis = -1,
                    Evidence = "feeds GRU inputs that disagree on its axes: " + string.Join("; ", found.Select(r => r.Evidence)),
                };
        }

        return roles;
    }

    /// <param name="origin">For each axis of <paramref name="tensor"/>, the axis of the graph input it came from.</param>
    private static void Follow(
        string graphInput, string tensor, int[] origin, List<string> path, Dictionary<string, List<NodeProto>> consumers, List<GruInputRole> found, int depth)
    {
        if (depth > 64 || !consumers.TryGetValue(tensor, out var nodes))
        {
            return;
        }

        foreach (var node in nodes)
        {
            switch (node.OpType)
            {
                case "Transpose" when node.Output.Count == 1:
                    var perm = node.Attribute.FirstOrDefault(a => a.Name == "perm")?.Ints.Select(p => (int)p).ToArray()
                        ?? [.. Enumerable.Range(0, origin.Length).Reverse()]; // the op's default reverses the axes
                    if (perm.Length != origin.Length || perm.Any(p => p < 0 || p >= origin.Length))
                    {
                        break;
                    }

                    // Output axis j is input axis perm[j].
                    Follow(graphInput, node.Output[0], [.. perm.Select(p => origin[p])], [.. path, $"Transpose{Perm(perm)}"], consumers, found, depth + 1);
                    break;
                case "Identity" when node.Output.Count == 1:
                    Follow(graphInput, node.Output[0], origin, path, consumers, found, depth + 1);
                    break;
                case "GRU":
                    Role(graphInput, tensor, origin, path, node, found);
                    break;
            }
        }
    }

    private static void Role(string graphInput, string tensor, int[] origin, List<string> path, NodeProto gru, List<GruInputRole> found)
    {
        var layout = (int)(gru.Attribute.FirstOrDefault(a => a.Name == "layout")?.I ?? 0);
        for (var index = 0; index < gru.Input.Count && index < GruInputNames.Length; index++)
        {
            if (gru.Input[index] != tensor)
            {
                continue;
            }

            // Axes of this GRU input as the op defines them, for its layout.
            (int Batch, int Time)? axes = (index, layout) switch
            {
                (0, 0) when origin.Length == 3 => (1, 0),
                (0, 1) when origin.Length == 3 => (0, 1),
                (4, _) when origin.Length == 1 => (0, -1),
                (5, 0) when origin.Length == 3 => (1, -1),
                (5, 1) when origin.Length == 3 => (0, -1),
                _ => null,
            };
            if (axes is not { } a)
            {
                continue;
            }

            var route = path.Count == 0 ? "directly" : "through " + string.Join(", ", path);
            found.Add(new GruInputRole(
                graphInput,
                GruInputNames[index],
                origin[a.Batch],
                a.Time < 0 ? -1 : origin[a.Time],
                $"feeds {GruInputNames[index]} of GRU node '{gru.Name}' (layout={layout}) {route}"));
        }
    }

    private static string Perm(int[] perm) => "[" + string.Join(",", perm) + "]";
}
