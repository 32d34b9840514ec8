using System.Globalization;

namespace GruNodeAgent.Runtime;

/// <summary>The machine's resources, for a node whose capacity is not configured.</summary>
internal static class NodeCapacity
{
    /// <summary>MemTotal from /proc/meminfo, in bytes (0 when unreadable).</summary>
    public static long MachineMemoryBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (!line.StartsWith("MemTotal:", StringComparison.Ordinal)) continue;
                var kb = line["MemTotal:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }

    /// <summary>Resident memory of one process, from /proc/PID/status (VmRSS), in bytes (0 once it is gone).</summary>
    public static long ResidentBytes(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }
}
