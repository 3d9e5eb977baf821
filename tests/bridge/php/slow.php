<?php
usleep((int)(isset($_GET['ms']) ? $_GET['ms'] : 2000) * 1000);
echo "slow done\n";
