using GruOnnx.Protobuf;

namespace GruOnnx.Reading;

/// <summary>One GRU node's recurrent state as the graph exposes it: the graph input that feeds its <c>initial_h</c>
/// and the graph output that carries its <c>Y_h</c>, with the same axis order, so a sequence can be continued by
/// feeding one run's output back as the next run's input.</summary>
public sealed record GruStatePair(string GruNode, string Input, string Output);

/// <summary>The state pairs of every GRU node, or why the model cannot carry state between requests.</summary>
/// <param name="Problems">Empty when every GRU node has a pair; otherwise one sentence per node that lacks one.</param>
public sealed record GruStateTrace(IReadOnlyList<GruStatePair> Pairs, IReadOnlyList<string> Problems)
{
    public bool CanCarryState => Problems.Count == 0 && Pairs.Count > 0;
}

/// <summary>Finds, for every GRU node, the graph input feeding its <c>initial_h</c> and the graph output carrying its
/// <c>Y_h</c>, following Identity and Transpose nodes as <see cref="GruInputAxes"/> does for the batch and time axes.</summary>
/// <remarks>Sending a sequence in chunks equals sending it whole only when every GRU continues from where it stopped:
/// a stacked model needs each layer's state, and a reverse or bidirectional GRU reads a chunk from its end, which a
/// state from the previous chunk cannot continue. Those are reported as problems, never guessed around.</remarks>
public static class GruStateTensors
{
    private const int InitialH = 5;
    private const int Yh = 1;

    public static GruStateTrace Trace(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph ?? throw new InvalidDataException("the model has no graph");
        var initializers = graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var graphInputs = graph.Input.Select(i => i.Name).Where(n => !initializers.Contains(n)).ToHashSet(StringComparer.Ordinal);
        var graphOutputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        var consumers = new Dictionary<string, List<NodeProto>>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            foreach (var output in node.Output.Where(o => o.Length > 0))
            {
                producers[output] = node;
            }

            foreach (var input in node.Input.Where(i => i.Length > 0))
            {
                if (!consumers.TryGetValue(input, out var list))
                {
                    consumers[input] = list = [];
                }

                list.Add(node);
            }
        }

        var pairs = new List<GruStatePair>();
        var problems = new List<string>();
        var grus = graph.Node.Where(n => n.OpType == "GRU").ToList();
        if (grus.Count == 0)
        {
            problems.Add("the model has no GRU node");
        }

        foreach (var gru in grus)
        {
            var direction = gru.Attribute.FirstOrDefault(a => a.Name == "direction")?.S.ToStringUtf8() ?? "forward";
            if (direction != "forward")
            {
                problems.Add($"GRU node '{gru.Name}' runs {direction}: it reads each chunk from its end, so no state carried from the previous chunk can continue it");
                continue;
            }

            var input = gru.Input.Count > InitialH && gru.Input[InitialH].Length > 0
                ? Upstream(gru.Input[InitialH], [0, 1, 2], producers, graphInputs)
                : null;
            var output = gru.Output.Count > Yh && gru.Output[Yh].Length > 0
                ? Downstream(gru.Output[Yh], [0, 1, 2], consumers, graphOutputs, depth: 0)
                : null;
            if (input is null)
            {
                problems.Add($"GRU node '{gru.Name}' has no graph input feeding its initial_h (through Identity/Transpose only)");
            }
            else if (output is null)
            {
                problems.Add($"GRU node '{gru.Name}' has no graph output carrying its Y_h (through Identity/Transpose only)");
            }
            else if (!input.Value.Origin.SequenceEqual(output.Value.Origin))
            {
                problems.Add($"GRU node '{gru.Name}': initial_h input '{input.Value.Name}' and Y_h output '{output.Value.Name}' order their axes differently");
            }
            else
            {
                pairs.Add(new GruStatePair(gru.Name, input.Value.Name, output.Value.Name));
            }
        }

        return new GruStateTrace(pairs, problems);
    }

    /// <param name="origin">For each axis of <paramref name="tensor"/>, the GRU state axis ([directions, batch, hidden]) it holds.</param>
    private static (string Name, int[] Origin)? Upstream(string tensor, int[] origin, Dictionary<string, NodeProto> producers, HashSet<string> graphInputs)
    {
        for (var depth = 0; depth < 64; depth++)
        {
            if (graphInputs.Contains(tensor))
            {
                return (tensor, origin);
            }

            if (!producers.TryGetValue(tensor, out var node) || node.Input.Count == 0)
            {
                return null;
            }

            switch (node.OpType)
            {
                case "Identity":
                    break;
                case "Transpose":
                    var perm = Perm(node, origin.Length);
                    if (perm is null)
                    {
                        return null;
                    }

                    // Output axis j is input axis perm[j], so input axis perm[j] holds what output axis j holds.
                    var next = new int[origin.Length];
                    for (var j = 0; j < perm.Length; j++)
                    {
                        next[perm[j]] = origin[j];
                    }

                    origin = next;
                    break;
                default:
                    return null;
            }

            tensor = node.Input[0];
        }

        return null;
    }

    private static (string Name, int[] Origin)? Downstream(
        string tensor, int[] origin, Dictionary<string, List<NodeProto>> consumers, HashSet<string> graphOutputs, int depth)
    {
        if (graphOutputs.Contains(tensor))
        {
            return (tensor, origin);
        }

        if (depth > 64 || !consumers.TryGetValue(tensor, out var nodes))
        {
            return null;
        }

        foreach (var node in nodes.Where(n => n.Output.Count == 1))
        {
            var found = node.OpType switch
            {
                "Identity" => Downstream(node.Output[0], origin, consumers, graphOutputs, depth + 1),
                "Transpose" when Perm(node, origin.Length) is { } perm =>
                    Downstream(node.Output[0], [.. perm.Select(p => origin[p])], consumers, graphOutputs, depth + 1),
                _ => null,
            };
            if (found is not null)
            {
                return found;
            }
        }

        return null;
    }

    private static int[]? Perm(NodeProto transpose, int rank)
    {
        var perm = transpose.Attribute.FirstOrDefault(a => a.Name == "perm")?.Ints.Select(p => (int)p).ToArray()
            ?? [.. Enumerable.Range(0, rank).Reverse()];
        return perm.Length == rank && perm.All(p => p >= 0 && p < rank) ? perm : null;
    }
}
