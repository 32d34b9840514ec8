

namespace TestSupport.ArgoCd;

/// <summary>What a health script returned for one object.</summary>
public sealed record HealthStatus(string Status, string Message);

/// <summary>
/// Runs config/argocd's GruModel health.lua the way Argo CD does: the object as the global <c>obj</c>, the script as a
/// chunk whose return value is the health table, here on Debian's lua5.1 (Argo CD uses gopher-lua, also Lua 5.1).
/// </summary>
public static class ArgoHealthCheck
{
    /// <summary>config/argocd/serving.gru.dev/GruModel, Argo CD's resource_customizations layout.</summary>
    public static string Directory => Path.Combine(Repository.Root, "config", "argocd", "serving.gru.dev", "GruModel");

    public static string ScriptPath => Path.Combine(Directory, "health.lua");

    /// <summary>Evaluates <paramref name="script"/> (Lua source) on the object in <paramref name="objectYaml"/>.</summary>
    public static async Task<HealthStatus> EvaluateAsync(string script, string objectYaml, CancellationToken cancellationToken)
    {
        var work = System.IO.Directory.CreateTempSubdirectory("gru-argocd-").FullName;
        try
        {
            var scriptFile = Path.Combine(work, "health.lua");
            await File.WriteAllTextAsync(scriptFile, script, cancellationToken);
            var harness = Path.Combine(work, "harness.lua");
            // Records separated by NUL, which a message never contains; error() output goes to stderr with exit 1.
            await File.WriteAllTextAsync(harness, $"""
                obj = {LuaTableLiteral.FromYaml(objectYaml)}
                local check = assert(loadfile(arg[1]))
                local hs = check()
                if type(hs) ~= "table" then error("health.lua returned " .. type(hs) .. ", not a table") end
                io.write(tostring(hs.status), "\0", tostring(hs.message))
                """, cancellationToken);
            var run = await ExternalTool.Lua.RunAsync([harness, scriptFile], work, cancellationToken: cancellationToken);
            if (run.ExitCode != 0) throw new InvalidOperationException($"lua5.1 failed on the health check: {run.Output}");
            var parts = run.Stdout.Split('\0');
            return parts.Length == 2 ? new HealthStatus(parts[0], parts[1]) : throw new InvalidOperationException($"unexpected harness output: {run.Output}");
        }
        finally
        {
            System.IO.Directory.Delete(work, recursive: true);
        }
    }
}
