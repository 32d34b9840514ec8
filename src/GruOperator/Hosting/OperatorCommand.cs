using System.CommandLine;
using System.CommandLine.Help;
using GruOperator.Manifests;

namespace GruOperator.Hosting;

/// <summary>
/// The <c>gru-operator</c> command line: one flag per <see cref="OperatorSettings"/> entry (each also a GRU_OPERATOR_*
/// variable; flags win) and the <c>manifests</c> subcommand. Unknown flags are refused, never taken as configuration.
/// </summary>
internal static class OperatorCommand
{
    public const string Name = "gru-operator";

    /// <summary>Exit code for a command line or configuration the operator cannot use (as GruServer).</summary>
    public const int UsageError = 2;

    /// <summary>Builds the command; <paramref name="run"/> receives the configuration keys of the flags given explicitly.</summary>
    public static RootCommand Create(Func<IReadOnlyDictionary<string, string?>, CancellationToken, Task<int>> run)
    {
        var root = new RootCommand(
            "gru-operator: serves GruModel resources (serving.gru.dev/v1alpha1) as GruServer Deployments and Services.\n" +
            "Every flag can also be set with the environment variable shown; flags win.");
        var flags = AddFlags(root);
        root.SetAction((parse, cancellationToken) => run(ExplicitValues(parse, flags), cancellationToken));

        var output = new Option<string>("--output", "-o")
        {
            Description = "Directory to write the CRD into",
            DefaultValueFactory = _ => Path.Combine("config", "crds"),
        };
        var manifests = new Command("manifests", "Writes the GruModel CustomResourceDefinition generated from the C# types.");
        manifests.Options.Add(output);
        manifests.SetAction(parse => ManifestsCommand.Write(parse.GetValue(output)!, parse.InvocationConfiguration.Output));
        root.Subcommands.Add(manifests);
        return root;
    }

    /// <summary>
    /// Parses <paramref name="args"/> and runs the command. A parse error (unknown or misspelled flag, missing value)
    /// is one line on <paramref name="stderr"/> and exit code 2, not a help page.
    /// </summary>
    public static Task<int> InvokeAsync(RootCommand root, IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is not HelpAction)
        {
            stderr.WriteLine($"{Name}: {Describe(parse, root)} Run '{Name} --help' for every flag.");
            return Task.FromResult(UsageError);
        }
        // The web host handles SIGTERM itself (graceful stop, lease release); System.CommandLine must not race it.
        return parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, Output = stdout, Error = stderr }, cancellationToken);
    }

    /// <summary>The configuration keys set by flags in <paramref name="args"/>; throws on an unknown flag or a missing value.</summary>
    public static IReadOnlyDictionary<string, string?> ParseFlags(IReadOnlyList<string> args)
    {
        var root = new RootCommand();
        var flags = AddFlags(root);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0) throw new OperatorConfigurationException([Describe(parse, root)]);
        return ExplicitValues(parse, flags);
    }

    private static List<(OperatorSetting Setting, Option<string> Option)> AddFlags(RootCommand root)
    {
        var flags = new List<(OperatorSetting, Option<string>)>();
        foreach (var setting in OperatorSettings.All)
        {
            var option = new Option<string>(setting.Flag)
            {
                Description = $"{setting.Description} [env {setting.EnvironmentVariable}{(setting.Default is null ? "" : $", default {setting.Default}")}]",
                HelpName = setting.Kind switch
                {
                    SettingKind.Boolean => "true|false",
                    SettingKind.Integer => "n",
                    SettingKind.Duration => "duration",
                    SettingKind.Url => "url",
                    _ => "value",
                },
                // A bare --leader-elect means true, as with Go's flag package.
                Arity = setting.Kind == SettingKind.Boolean ? ArgumentArity.ZeroOrOne : ArgumentArity.ExactlyOne,
            };
            root.Options.Add(option);
            flags.Add((setting, option));
        }
        return flags;
    }

    private static Dictionary<string, string?> ExplicitValues(ParseResult parse, List<(OperatorSetting Setting, Option<string> Option)> flags)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (setting, option) in flags)
        {
            if (parse.GetResult(option) is not { Implicit: false } result) continue;
            values[setting.Key] = result.Tokens.Count == 0 && setting.Kind == SettingKind.Boolean ? "true" : parse.GetValue(option);
        }
        return values;
    }

    /// <summary>One sentence for the parse errors: unknown flags with a suggestion, else the parser's own words.</summary>
    private static string Describe(ParseResult parse, Command root)
    {
        var unknown = parse.UnmatchedTokens.Where(t => t.StartsWith('-')).ToList();
        if (unknown.Count > 0)
        {
            var names = root.Options.Select(o => o.Name).Concat(root.Options.SelectMany(o => o.Aliases)).ToList();
            return string.Join(" ", unknown.Select(token =>
            {
                var flag = token.Split('=', 2)[0];
                var suggestion = names.Where(n => n.StartsWith("--", StringComparison.Ordinal)).OrderBy(n => EditDistance(flag, n)).FirstOrDefault();
                return suggestion is not null && EditDistance(flag, suggestion) <= 3
                    ? $"unknown flag '{flag}' (did you mean {suggestion}?)."
                    : $"unknown flag '{flag}'.";
            }));
        }
        if (parse.UnmatchedTokens.Count > 0) return $"unexpected argument '{parse.UnmatchedTokens[0]}'.";
        return string.Join(" ", parse.Errors.Select(e => e.Message).Distinct());
    }

    // Levenshtein distance; only used to suggest a flag for a typo, so the flag table's size keeps it cheap.
    private static int EditDistance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j] + 1, current[j - 1] + 1));
            }
            previous = current;
        }
        return previous[b.Length];
    }
}
