from sse_doctor.cli import main

raise SystemExit(main())
