namespace TestSupport.ControlPlane;

/// <summary>
/// Cleans up after a test host that died without disposing its control plane (killed on a CI timeout, crashed): each
/// control plane's temp directory names its owner process and its children; the next start stops the children of
/// owners that are gone and deletes their directories. A child is stopped only when its command line names that
/// directory, so a reused process id is never hit.
/// </summary>
internal static class AbandonedControlPlanes
{
    public const string Prefix = "gru-envtest-";
    private const string OwnerFile = "owner.pid";
    private const string ChildrenFile = "children.pid";

    public static void Own(string directory) =>
        File.WriteAllText(Path.Combine(directory, OwnerFile), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static void Record(string directory, ControlPlaneProcess process) =>
        File.AppendAllText(Path.Combine(directory, ChildrenFile), process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n");

    public static void Reap()
    {
        foreach (var directory in Directory.GetDirectories(Path.GetTempPath(), Prefix + "*"))
        {
            try
            {
                var owner = Path.Combine(directory, OwnerFile);
                if (!File.Exists(owner) || IsRunning(File.ReadAllText(owner).Trim()))
                {
                    continue;
                }

                var name = Path.GetFileName(directory);
                var children = Path.Combine(directory, ChildrenFile);
                foreach (var pid in File.Exists(children) ? File.ReadAllLines(children) : [])
                {
                    if (int.TryParse(pid, out var id) && CommandLine(id).Contains(name, StringComparison.Ordinal))
                    {
                        using var process = System.Diagnostics.Process.GetProcessById(id);
                        process.Kill();
                        process.WaitForExit(10_000);
                    }
                }

                Directory.Delete(directory, recursive: true);
                var etcd = Path.Combine("/dev/shm", name + "-etcd");
                if (Directory.Exists(etcd))
                {
                    Directory.Delete(etcd, recursive: true);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
            {
                // another run's directory, or a process already gone: not ours to insist on
            }
        }
    }

    private static bool IsRunning(string pid) => Directory.Exists($"/proc/{pid}");

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
    }
}
